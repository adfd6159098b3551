# written by bench/bench.py for bench/plot.gp
targets = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
labels = "c1 c10 c50 c100 c1000 k0-c10"
lat_1 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
lat_2 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
lat_3 = "redis iterative thread fork epoll reuseport prefork prethread prethread-queue"
lat_4 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
lat_5 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
lat_6 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
connlabels = "c1000 k0-c10"
conn_1 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
conn_2 = "iterative thread fork epoll reuseport prefork prethread prethread-queue redis"
floor = 1
lfloor = 1
