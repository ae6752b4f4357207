import CGlibcMalloc
import Foundation
import Vapor

/// glibc's heap, kept from holding on to what the server has freed.
///
/// Under load a page render allocates and frees megabytes on whichever thread runs it; glibc
/// keeps freed memory in the arena of the thread that used it (up to eight arenas a core) and
/// gives it back to the system only from the top of each heap. A server that has rendered
/// thousands of pages then holds far more than it uses: at 10,000 cases RSS stayed 160 MB above
/// the page cache's 128 MB (BENCHMARKS.md, B11). Vigil therefore keeps the arenas few and, while
/// it serves, hands free pages back whenever many have gathered (`HeapTrimmer`).
enum Heap {
    /// At most `arenas` malloc arenas, unless the operator chose (`MALLOC_ARENA_MAX`, or
    /// `GLIBC_TUNABLES`). Called at start, before threads are made: threads beyond that share
    /// arenas (their locks are held for nanoseconds at a time) instead of each stranding its own
    /// free memory.
    /// Returns whether the limit was set.
    @discardableResult
    static func limitArenas(_ arenas: Int, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard environment["MALLOC_ARENA_MAX"] == nil, environment["GLIBC_TUNABLES"] == nil else { return false }
        #if canImport(Glibc)
        return mallopt(M_ARENA_MAX, Int32(clamping: arenas)) == 1
        #else
        return false
        #endif
    }

    /// Bytes in use by the program: allocated and not freed, in the arenas and in mapped blocks.
    static var usedBytes: Int {
        #if canImport(Glibc)
        return Int(clamping: vigil_heap_used_bytes())
        #else
        return 0
        #endif
    }

    /// The process's resident memory (`/proc/self/statm`), nil where there is no such file.
    static var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * pageSize
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Gives the free pages of every arena back to the system; true when some were.
    @discardableResult
    static func trim() -> Bool {
        #if canImport(Glibc)
        return malloc_trim(0) == 1
        #else
        return false
        #endif
    }

    /// Resident memory that is not in use: the program's code and stacks, and the heap's free
    /// pages not given back. Only the second part changes much while the server runs.
    static var slackBytes: Int? { residentBytes.map { $0 - usedBytes } }
}

/// While `vigil serve` runs, looks every `interval` at the resident memory not in use
/// (`Heap.slackBytes`), and when it has grown by `threshold` since the last trim — freed memory
/// that glibc kept — gives the heap's free pages back (`Heap.trim`). What is left after a trim
/// (code, stacks, free memory in pages still partly used) is the new baseline, so pages given
/// back and used again do not count twice, and a server that idles or holds steady is not walked
/// again. The look and the trim run on the blocking pool, never on an event loop.
struct HeapTrimmer: LifecycleHandler {
    var interval: Duration = .seconds(5)
    var threshold = 16 * 1024 * 1024

    final class Box: @unchecked Sendable { var task: Task<Void, Never>? }
    let box = Box()

    /// Whether the memory freed since the last trim is worth giving back.
    static func shouldTrim(slack: Int, baseline: Int, threshold: Int) -> Bool { slack - baseline >= threshold }

    func didBootAsync(_ app: Application) async throws {
        let args = app.environment.arguments.dropFirst()
        guard (args.first(where: { !$0.hasPrefix("-") }) ?? "serve") == "serve", app.environment != .testing,
              Heap.residentBytes != nil else { return }
        let (interval, threshold, logger, pool) = (interval, threshold, app.logger, app.threadPool)
        box.task = Task {
            var baseline = Heap.slackBytes ?? 0
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let last = baseline
                guard !Task.isCancelled, let next = try? await pool.runIfActive({ () -> (Int, String)? in
                    // One read of statm to look, one more after a trim.
                    guard let before = Heap.residentBytes,
                          Self.shouldTrim(slack: before - Heap.usedBytes, baseline: last, threshold: threshold) else { return nil }
                    Heap.trim()
                    let after = Heap.residentBytes ?? before
                    return (after - Heap.usedBytes, "\(before >> 20) MB resident before, \(after >> 20) MB after")
                }) else { continue }
                baseline = next.0
                logger.debug("Gave free heap pages back to the system: \(next.1)")
            }
        }
    }

    func shutdownAsync(_ app: Application) async {
        box.task?.cancel()
        await box.task?.value
    }
}
