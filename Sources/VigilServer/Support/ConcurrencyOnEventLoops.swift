import CSwiftConcurrencyHook
import Foundation
import NIOCore
import NIOPosix

/// Swift concurrency's jobs run on NIO's event loops (`MultiThreadedEventLoopGroup.singleton`,
/// which Vapor serves on), as SwiftNIO's `unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`
/// arranges: a task resumed by a database answer or a request's body goes on on the event loop it
/// was resumed from, instead of being handed to one of Dispatch's threads and back (on the
/// project's 2-core machine, 60 thread switches and about 2 ms of CPU per action report).
///
/// SwiftNIO looks the runtime's hook up with dlsym, which finds it only when the Swift runtime is
/// a shared library (debug builds). The release build links the runtime in, whose symbols are not
/// exported (`--exclude-libs ALL`): there NIO's takeover failed, silently, and every release build
/// ran its tasks on Dispatch's threads. When the operator asks for it (`VIGIL_TASKS_ON_EVENT_LOOPS=1`;
/// off by default, see `install`), Vigil sets the same hook itself, in any build, through a
/// reference the link resolves (`CSwiftConcurrencyHook`), with the same body as NIO's: the current
/// event loop when the job is enqueued from one, else the group's next.
enum ConcurrencyOnEventLoops {
    /// Whether it took effect: a task started after the hook was set ran on an event loop
    /// (`vigil_concurrency_on_event_loops`; `vigil serve` warns when not).
    nonisolated(unsafe) static var installed = false

    private typealias Original = @convention(thin) (UnownedJob) -> Void
    private typealias Hook = @convention(thin) (UnownedJob, Original) -> Void

    /// Whether the operator asked for it (`VIGIL_TASKS_ON_EVENT_LOOPS=1`).
    nonisolated(unsafe) static var requested = false

    /// Call once, first thing in `main`, before any task but the main one has run. Off unless
    /// asked for: measured on 2026-12-02, it halves a lone report's latency, but page renders
    /// then run on the event loops themselves, and cached pages answered beside two clients'
    /// searches fell from 22,000–25,000 to 8,300 a second (BENCHMARKS.md, B5). Until renders
    /// leave the event loops, Dispatch's threads keep the fast path free.
    static func install(environment: [String: String] = ProcessInfo.processInfo.environment) async {
        requested = environment["VIGIL_TASKS_ON_EVENT_LOOPS"] == "1"
        guard requested else { return }
        // The hook's type is the runtime's, not a promise of the language: set it only with the
        // compilers SwiftNIO's own takeover is written for.
        #if compiler(<6.6)
        let slot = vigil_swift_task_enqueue_global_hook()
        // Someone else's hook: leave it.
        guard slot.pointee == nil else { return }
        let hook: Hook = { job, _ in
            MultiThreadedEventLoopGroup.singleton.any().enqueue(ExecutorJob(job))
        }
        slot.pointee = unsafeBitCast(hook, to: UnsafeMutableRawPointer.self)
        // Checked, not assumed: a runtime that no longer reads the hook leaves tasks on Dispatch.
        installed = await Task.detached { MultiThreadedEventLoopGroup.currentEventLoop != nil }.value
        #endif
    }
}
