/* One intrusive doubly linked list for every list in Weft (libuv's
 * src/queue.h, h2o's linklist.h): a struct that lives on a list embeds a
 * struct weft_list; the list's head is a struct weft_list of its own that
 * links to itself when the list is empty. Insert and remove are O(1) and
 * allocate nothing, and a node that was removed (or only initialised)
 * links to itself, so removing it again is harmless.
 *
 * Ownership: the list owns nothing; whoever embeds a node frees it, after
 * removing it. Thread-safety: none; a list belongs to one thread (or one
 * lock).
 */
#ifndef WEFT_LIST_H
#define WEFT_LIST_H

#include <stddef.h>

struct weft_list {
    struct weft_list *prev, *next;
};

/* A head, or a node that is on no list. */
static inline void weft_list_init(struct weft_list *l)
{
    l->prev = l->next = l;
}

static inline int weft_list_empty(const struct weft_list *head)
{
    return head->next == head;
}

/* Links n in just before at (at a head: at the back of its list). */
static inline void weft_list_insert_before(struct weft_list *at, struct weft_list *n)
{
    n->prev = at->prev;
    n->next = at;
    at->prev->next = n;
    at->prev = n;
}

static inline void weft_list_push_back(struct weft_list *head, struct weft_list *n)
{
    weft_list_insert_before(head, n);
}

static inline void weft_list_push_front(struct weft_list *head, struct weft_list *n)
{
    weft_list_insert_before(head->next, n);
}

/* Unlinks n from whatever list it is on (none: no effect). */
static inline void weft_list_remove(struct weft_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* The struct that embeds node ptr as its `member`. */
#define weft_list_entry(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Front to back. The _safe form lets the body remove (and free) the
 * entry it is on. */
#define weft_list_foreach(pos, head)                                                               \
    for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
#define weft_list_foreach_safe(pos, tmp, head)                                                     \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                               \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif /* WEFT_LIST_H */
