import Foundation
import NIOPosix
import Vapor

/// The threads that render PDFs and Word files, apart from the application's thread pool: a
/// burst of downloads queues here and never delays password hashing, which runs on the other.
/// The queue is bounded: beyond `maxWaiting` renders waiting, a request is answered 503 with
/// `Retry-After` instead of waiting without end.
final class RenderPool: @unchecked Sendable {
    let pool: NIOThreadPool
    let maxWaiting: Int
    private let lock = NSLock()
    private var waiting = 0
    /// Renders are timed here (`vigil_document_render_*`).
    let metrics: VigilMetrics?

    init(threads: Int = System.coreCount, maxWaiting: Int = 64, metrics: VigilMetrics? = nil) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.maxWaiting = maxWaiting
        self.metrics = metrics
        pool.start()
    }

    /// Renders running or waiting.
    var queued: Int { lock.withLock { waiting } }

    /// Runs `work`, a render of `kind` (`pdf`, `docx`) of a `document` (`urgent_action`, `letter`,
    /// `pack`): the names its time is counted under.
    func run<T: Sendable>(kind: String, document: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let admitted = lock.withLock { () -> Bool in
            guard waiting < maxWaiting else { return false }
            waiting += 1
            return true
        }
        guard admitted else {
            metrics?.renderRefusals.inc()
            throw Refusal(.serviceUnavailable, "refusal_many_documents_are_being_prepared", headers: ["Retry-After": "5"])
        }
        defer { lock.withLock { waiting -= 1 } }
        let metrics = self.metrics
        return try await pool.runIfActive {
            // Timed on the pool's thread: the render, not the wait for a thread.
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let result = try work()
                metrics?.renderDuration.observe(Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9, kind, document)
                return result
            } catch {
                metrics?.renderFailures.inc(kind)
                throw error
            }
        }
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

extension Application {
    /// Made in `configure` with the other services; shut down with the application.
    var renderPool: RenderPool { vigilServices.renderPool }
}

struct RenderPoolLifecycle: LifecycleHandler {
    func shutdownAsync(_ app: Application) async {
        await app.renderPool.shutdown()
    }
}
