import Foundation
import Logging
import Testing
import VaporTesting
@testable import VigilServer

@Suite("Scheduler of periodic jobs")
struct SchedulerTests {
    /// Counts a job's runs.
    actor Counter {
        private(set) var value = 0
        func increment() { value += 1 }
    }

    /// Holds a job until the test opens it.
    actor Gate {
        private(set) var isOpen = false
        func open() { isOpen = true }
        func wait() async throws {
            while !isOpen { try await Task.sleep(for: .milliseconds(1)) }
        }
    }

    /// Keeps the messages logged through it.
    final class LogCapture: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var messages: [String] { lock.lock(); defer { lock.unlock() }; return lines }

        var logger: Logger {
            Logger(label: "scheduler-test") { _ in Handler(capture: self) }
        }

        struct Handler: LogHandler {
            let capture: LogCapture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                capture.append("\(event.level) \(event.message)")
            }
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String { "boom" } }

    static func job(_ name: String, every: Duration) -> Scheduler.Job {
        Scheduler.Job(name, every: every) {}
    }

    static func dueNames(_ jobs: [Scheduler.Job], _ last: [String: Duration], running: Set<String> = [], at t: Duration) -> [String] {
        Scheduler.due(jobs, lastStarts: last, running: running, at: t).map(\.name)
    }

    @Test func everyJobIsDueAtStart() {
        let jobs = [Self.job("a", every: .seconds(5)), Self.job("b", every: .seconds(60)), Self.job("c", every: .seconds(3600))]
        #expect(Self.dueNames(jobs, [:], at: .zero) == ["a", "b", "c"])
    }

    @Test func aMinuteJobIsDueAgainAfterSixtySecondsAndNotBefore() {
        let jobs = [Self.job("minute", every: .seconds(60))]
        let last: [String: Duration] = ["minute": .seconds(10)]
        #expect(Self.dueNames(jobs, last, at: .seconds(10)).isEmpty)
        #expect(Self.dueNames(jobs, last, at: .seconds(69)).isEmpty)
        #expect(Self.dueNames(jobs, last, at: .milliseconds(69_999)).isEmpty)
        #expect(Self.dueNames(jobs, last, at: .seconds(70)) == ["minute"])
        #expect(Self.dueNames(jobs, last, at: .seconds(500)) == ["minute"])
    }

    @Test func anHourJobIsNotDueAfterFiftyNineMinutes() {
        let jobs = [Self.job("hour", every: .seconds(3600)), Self.job("minute", every: .seconds(60))]
        let last: [String: Duration] = ["hour": .zero, "minute": .zero]
        #expect(Self.dueNames(jobs, last, at: .seconds(59 * 60)) == ["minute"])
        #expect(Self.dueNames(jobs, last, at: .seconds(3600)) == ["hour", "minute"])
    }

    @Test func aRunningJobIsNeverDue() {
        let jobs = [Self.job("slow", every: .seconds(5))]
        #expect(Self.dueNames(jobs, [:], running: ["slow"], at: .zero).isEmpty)
        #expect(Self.dueNames(jobs, ["slow": .zero], running: ["slow"], at: .seconds(3600)).isEmpty)
    }

    @Test func aFailingJobIsLoggedDoesNotStopTheNextAndIsRetriedAtItsNextInterval() async throws {
        let failures = Counter(), others = Counter(), log = LogCapture()
        let scheduler = Scheduler(jobs: [
            Scheduler.Job("failing", every: .seconds(60)) {
                await failures.increment()
                throw Failure()
            },
            Scheduler.Job("other", every: .seconds(60)) { await others.increment() },
        ], logger: log.logger)

        let first = await scheduler.tick(at: .zero)
        #expect(Set(first.keys) == ["failing", "other"])
        for task in first.values { await task.value }
        #expect(await failures.value == 1)
        #expect(await others.value == 1)
        let warned = log.messages.contains { $0.hasPrefix("warning") && $0.contains("failing") && $0.contains("boom") }
        #expect(warned, "the failure is logged with the job's name")
        #expect(await scheduler.runningJobs.isEmpty)

        // Not before its interval…
        let early = await scheduler.tick(at: .seconds(30))
        #expect(early.isEmpty)
        // …then again, with the other job beside it.
        let second = await scheduler.tick(at: .seconds(60))
        #expect(Set(second.keys) == ["failing", "other"])
        for task in second.values { await task.value }
        #expect(await failures.value == 2)
        #expect(await others.value == 2)
    }

    @Test func aSlowJobIsNotStartedTwice() async throws {
        let runs = Counter(), quick = Counter(), gate = Gate()
        let scheduler = Scheduler(jobs: [
            Scheduler.Job("slow", every: .seconds(5)) {
                await runs.increment()
                try await gate.wait()
            },
            Scheduler.Job("quick", every: .seconds(5)) { await quick.increment() },
        ], logger: LogCapture().logger)

        let first = await scheduler.tick(at: .zero)
        #expect(Set(first.keys) == ["slow", "quick"])
        await first["quick"]?.value
        // Long past its interval, but still running: only the quick job starts.
        let meanwhile = await scheduler.tick(at: .seconds(120))
        #expect(Set(meanwhile.keys) == ["quick"])
        await meanwhile["quick"]?.value
        #expect(await scheduler.runningJobs == ["slow"])

        await gate.open()
        await first["slow"]?.value
        #expect(await scheduler.runningJobs.isEmpty)
        // Finished and overdue: it starts at the next tick.
        let after = await scheduler.tick(at: .seconds(121))
        #expect(Set(after.keys) == ["slow"])
        await after["slow"]?.value
        #expect(await runs.value == 2)
        #expect(await quick.value == 2)
    }

    @Test func runStartsDueJobsAndStopsWhenCancelled() async throws {
        let runs = Counter()
        let scheduler = Scheduler(jobs: [Scheduler.Job("hourly", every: .seconds(3600)) { await runs.increment() }],
                                  logger: LogCapture().logger)
        let loop = Task { await scheduler.run(clock: ContinuousClock(), resolution: .milliseconds(5)) }
        var waited = 0
        while await runs.value == 0, waited < 200 {
            try await Task.sleep(for: .milliseconds(5))
            waited += 1
        }
        try await Task.sleep(for: .milliseconds(30))
        loop.cancel()
        await loop.value
        #expect(await runs.value == 1, "due at start, then not for an hour")
    }

    @Test func theStandardJobsAreRegisteredInOnePlace() async throws {
        try await withApp(.sqlite, configure: { $0.smtpURL = "smtp://127.0.0.1:2525" }) { app in
            let jobs = try Scheduler.standardJobs(app: app)
            #expect(jobs.map(\.name) == ["mail", "schedules", "rate-limits", "housekeeping", "digests"])
            #expect(jobs.map(\.every) == [.seconds(5), .seconds(5), .seconds(60), .seconds(3600), .seconds(3600)])
        }
        try await withApp(.sqlite, configure: { $0.sendmailPath = "/usr/sbin/sendmail" }) { app in
            let jobs = try Scheduler.standardJobs(app: app)
            #expect(jobs.map(\.name) == ["mail", "schedules", "rate-limits", "housekeeping", "digests"])
        }
        try await withApp { app in
            let jobs = try Scheduler.standardJobs(app: app)
            #expect(jobs.map(\.name) == ["schedules", "rate-limits", "housekeeping", "digests"], "no transport: no mail job")
            #expect(jobs.map(\.every) == [.seconds(5), .seconds(60), .seconds(3600), .seconds(3600)])
        }
    }
}
