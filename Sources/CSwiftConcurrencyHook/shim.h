#ifndef VIGIL_SWIFT_CONCURRENCY_HOOK_H
#define VIGIL_SWIFT_CONCURRENCY_HOOK_H

/* Swift concurrency's runtime calls this function, when set, for every job enqueued on the global
 * executor (it is what SwiftNIO sets to run tasks on its event loops). SwiftNIO finds it with
 * dlsym, which sees only exported symbols; with the Swift runtime linked in
 * (--static-swift-stdlib) the runtime's symbols are not exported, so Vigil reaches it through
 * this reference, which the static link resolves (see ConcurrencyOnEventLoops). */
extern void *_Nullable swift_task_enqueueGlobal_hook;

static inline void *_Nullable *_Nonnull vigil_swift_task_enqueue_global_hook(void) {
    return &swift_task_enqueueGlobal_hook;
}

#endif
