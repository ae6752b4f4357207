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
    /// At most `arenas` malloc arenas. Called at start, before threads are made: threads beyond
    /// that share arenas (their locks are held for nanoseconds at a time) instead of each
    /// stranding its own free memory.
    static func limitArenas(_ arenas: Int) {
        #if canImport(Glibc)
        _ = mallopt(M_ARENA_MAX, Int32(clamping: arenas))
        #endif
    }

    /// Bytes the heap holds free (not in use, not yet given back to the system).
    static var freeBytes: Int {
        #if canImport(Glibc)
        return Int(clamping: mallinfo2().fordblks)
        #else
        return 0
        #endif
    }

    /// Bytes in use by the program: allocated and not freed, in the arenas and in mapped blocks.
    static var usedBytes: Int {
        #if canImport(Glibc)
        let info = mallinfo2()
        return Int(clamping: info.uordblks) + Int(clamping: info.hblkhd)
        #else
        return 0
        #endif
    }

    /// The process's resident memory (`/proc/self/statm`), nil where there is no such file.
    static var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Gives the free pages of every arena back to the system; true when some were.
    @discardableResult
    static func trim() -> Bool {
        #if canImport(Glibc)
        return malloc_trim(0) == 1
        #else
        return false
        #endif
    }
}

/// While `vigil serve` runs, looks every `interval` at the process's resident memory, and when
/// it has grown by `growth` since the last look that trimmed (and the heap holds more than that
/// free), gives the heap's free pages back (`Heap.trim`). Trims follow growth, not time: a server
/// that idles, or holds steady, is not walked again and again.
struct HeapTrimmer: LifecycleHandler {
    var interval: Duration = .seconds(5)
    var growth = 8 * 1024 * 1024

    final class Box: @unchecked Sendable { var task: Task<Void, Never>? }
    let box = Box()

    func didBootAsync(_ app: Application) async throws {
        let args = app.environment.arguments.dropFirst()
        guard (args.first(where: { !$0.hasPrefix("-") }) ?? "serve") == "serve", app.environment != .testing else { return }
        let (interval, growth, logger) = (interval, growth, app.logger)
        box.task = Task.detached(priority: .utility) {
            var baseline = Heap.residentBytes ?? 0
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let resident = Heap.residentBytes, resident > baseline + growth, Heap.freeBytes > growth else { continue }
                let started = ContinuousClock.now
                Heap.trim()
                baseline = Heap.residentBytes ?? resident
                logger.debug("Gave free heap pages back to the system", metadata: [
                    "before_mb": "\(resident >> 20)", "after_mb": "\(baseline >> 20)", "took": "\(ContinuousClock.now - started)"])
            }
        }
    }

    func shutdownAsync(_ app: Application) async {
        box.task?.cancel()
        await box.task?.value
    }
}
