import Dispatch
import NIOPosix
import Vapor

/// The threads that render pages the cache does not hold (a miss: its database reads, its
/// template, its bytes), apart from the event loops that answer cached pages and from the pool
/// that renders PDFs. The page cache starts each render as a task that prefers this executor
/// (SE-0417), so the render runs here from its first line and comes back here after every `await`,
/// whatever executor the rest of the server's tasks run on: with Swift's tasks on the event loops
/// (`VIGIL_TASKS_ON_EVENT_LOOPS=1`), a burst of searches or a feed rendering no longer stands in
/// the way of the cached pages those loops answer.
final class PageRenderExecutor: TaskExecutor, @unchecked Sendable {
    private let pool: NIOThreadPool
    let threads: Int

    init(threads: Int = System.coreCount) {
        self.threads = max(1, threads)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { state in
            switch state {
            case .active:
                job.runSynchronously(on: executor)
            case .cancelled:
                // Shut down (the application is stopping): the task still runs to its end, on
                // Dispatch, so that nothing waiting for it hangs.
                DispatchQueue.global().async { job.runSynchronously(on: executor) }
            }
        }
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

struct PageRenderExecutorLifecycle: LifecycleHandler {
    let executor: PageRenderExecutor
    func shutdownAsync(_ app: Application) async {
        await executor.shutdown()
    }
}
