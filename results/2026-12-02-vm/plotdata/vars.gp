# written by bench/bench.py for bench/plot.gp
targets = "iterative oneshot thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
labels = "c1 c10 c50 c100 c1000 k0-c10"
lat_1 = "iterative thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
lat_2 = "iterative thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
lat_3 = "redis iterative thread fork epoll reuseport prefork prethread prethread-queue lab-thread"
lat_4 = "iterative thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
lat_5 = "iterative thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
lat_6 = "iterative oneshot thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
connlabels = "c1000 k0-c10"
conn_1 = "iterative oneshot thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
conn_2 = "iterative oneshot thread fork epoll reuseport prefork prethread prethread-queue lab-thread redis"
floor = 1
lfloor = 1
