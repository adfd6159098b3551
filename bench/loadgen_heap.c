/*
 * loadgen_heap.c - the sessions waiting for a time, in a min-heap.
 *
 * The key is session.wake: an open-loop session's next due time, a -k 0
 * slot's retry time, a session not yet opened.  One heap per thread.
 */
#include "loadgen_session.h"

static void
heap_set(struct worker *w, size_t i, struct session *s)
{
	w->heap[i] = s;
	s->heap_pos = (long)i;
}

static void
heap_up(struct worker *w, size_t i)
{
	struct session *s = w->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (w->heap[parent]->wake <= s->wake)
			break;
		heap_set(w, i, w->heap[parent]);
		i = parent;
	}
	heap_set(w, i, s);
}

static void
heap_down(struct worker *w, size_t i)
{
	struct session *s = w->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= w->nheap)
			break;
		if (c + 1 < w->nheap && w->heap[c + 1]->wake < w->heap[c]->wake)
			c++;
		if (s->wake <= w->heap[c]->wake)
			break;
		heap_set(w, i, w->heap[c]);
		i = c;
	}
	heap_set(w, i, s);
}

void
heap_remove(struct worker *w, struct session *s)
{
	size_t i;

	if (s->heap_pos < 0)
		return;
	i = (size_t)s->heap_pos;
	s->heap_pos = -1;
	if (i == --w->nheap)
		return;
	/* The last one fills the hole; it may belong above or below. */
	heap_set(w, i, w->heap[w->nheap]);
	heap_up(w, i);
	heap_down(w, i);
}

void
heap_push(struct worker *w, struct session *s, uint64_t when)
{
	heap_remove(w, s);
	s->wake = when;
	heap_set(w, w->nheap, s);
	heap_up(w, w->nheap++);
}

/* The first session whose time has come, out of the heap; or NULL. */
struct session *
heap_pop_due(struct worker *w, uint64_t now)
{
	struct session *s;

	if (w->nheap == 0 || w->heap[0]->wake > now)
		return NULL;
	s = w->heap[0];
	heap_remove(w, s);
	return s;
}

/* When the heap next needs us: PACE_NONE if it is empty. */
uint64_t
heap_next(const struct worker *w)
{
	return w->nheap > 0 ? w->heap[0]->wake : PACE_NONE;
}
