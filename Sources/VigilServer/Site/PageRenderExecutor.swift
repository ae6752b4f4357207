import Dispatch
import Foundation
import NIOPosix
import Vapor

/// The threads that render pages the cache does not hold (a miss: its database reads, its
/// template, its bytes), apart from the event loops that answer cached pages and from the pool
/// that renders PDFs. The page cache starts each render as a task that prefers this executor
/// (SE-0417), so the render runs here from its first line and comes back here after every `await`,
/// whatever executor the rest of the server's tasks run on: with Swift's tasks on the event loops
/// (`VIGIL_TASKS_ON_EVENT_LOOPS=1`), a burst of searches or a feed rendering no longer stands in
/// the way of the cached pages those loops answer.
typealias PageRenderExecutor = ThreadPoolExecutor

/// A task executor (SE-0417) on threads of its own, which start with the first job, so that
/// commands that use none start none: the page renders' (`PageRenderExecutor`) and the report
/// writer's (`SQLiteWriter`).
final class ThreadPoolExecutor: TaskExecutor, @unchecked Sendable {
    let threads: Int
    private let lock = NSLock()
    private var pool: NIOThreadPool?
    private var stopped = false
    /// The executor whose thread this is, on each of its threads.
    private final class Owner { weak var executor: ThreadPoolExecutor?; init(_ e: ThreadPoolExecutor) { executor = e } }
    nonisolated(unsafe) private static let owner = ThreadSpecificVariable<Owner>()

    init(threads: Int = System.coreCount) {
        self.threads = max(1, threads)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let pool = lock.withLock { () -> NIOThreadPool? in
            guard !stopped else { return nil }
            if let pool = self.pool { return pool }
            let started = NIOThreadPool(numberOfThreads: threads)
            started.start()
            self.pool = started
            return started
        }
        // Stopped (the application is shutting down): the task still runs to its end, on
        // Dispatch, so that nothing waiting for it hangs.
        guard let pool else {
            DispatchQueue.global().async { job.runSynchronously(on: executor) }
            return
        }
        pool.submit { [self] state in
            switch state {
            case .active:
                if Self.owner.currentValue == nil { Self.owner.currentValue = Owner(self) }
                job.runSynchronously(on: executor)
            case .cancelled: DispatchQueue.global().async { job.runSynchronously(on: executor) }
            }
        }
    }

    /// Whether the calling thread is one of this executor's.
    var isCurrent: Bool { Self.owner.currentValue?.executor === self }

    func shutdown() async {
        let pool = lock.withLock { () -> NIOThreadPool? in
            stopped = true
            return self.pool
        }
        try? await pool?.shutdownGracefully()
    }
}

struct PageRenderExecutorLifecycle: LifecycleHandler {
    let executor: PageRenderExecutor
    func shutdownAsync(_ app: Application) async {
        await executor.shutdown()
    }
}
