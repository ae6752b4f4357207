import Fluent
import Foundation
import Vapor

/// Runs Vigil's periodic jobs — mail delivery, rate-limit pruning, housekeeping, digests — each
/// on its own interval, in `vigil serve` only. Every job is due at start, then again once its
/// interval has passed since it last started; a job still running is never started a second
/// time, and a job that throws is logged and tried again at its next interval, leaving the
/// others alone.
///
/// Time is the `Duration` since the scheduler started, so that tests drive `tick(at:)` (or the
/// pure `due(_:lastStarts:running:at:)`) without waiting.
actor Scheduler {
    struct Job: Sendable {
        let name: String
        let every: Duration
        let run: @Sendable () async throws -> Void

        init(_ name: String, every: Duration, run: @escaping @Sendable () async throws -> Void) {
            self.name = name; self.every = every; self.run = run
        }

        /// A job that runs in one process only in each interval, whichever claims it first.
        static func once(_ name: String, every: Duration, on db: any Database, run: @escaping @Sendable () async throws -> Void) -> Job {
            Job(name, every: every) {
                guard try await JobRuns.claim(name, every: every, holder: JobRuns.holder, on: db) else { return }
                try await run()
            }
        }
    }

    /// The jobs due at `now`: never started, or last started at least their interval ago — and not running.
    static func due(_ jobs: [Job], lastStarts: [String: Duration], running: Set<String>, at now: Duration) -> [Job] {
        jobs.filter { job in
            guard !running.contains(job.name) else { return false }
            guard let last = lastStarts[job.name] else { return true }
            return now - last >= job.every
        }
    }

    let jobs: [Job]
    let logger: Logger
    /// When each job last started (time since the scheduler started).
    private(set) var lastStarts: [String: Duration] = [:]
    /// The jobs running now.
    private var running: [String: Task<Void, Never>] = [:]

    init(jobs: [Job], logger: Logger) {
        self.jobs = jobs; self.logger = logger
    }

    var runningJobs: Set<String> { Set(running.keys) }

    /// Starts the jobs due at `now`, each in a task of its own, and returns those tasks by job name.
    @discardableResult
    func tick(at now: Duration) -> [String: Task<Void, Never>] {
        var started: [String: Task<Void, Never>] = [:]
        for job in Self.due(jobs, lastStarts: lastStarts, running: runningJobs, at: now) {
            lastStarts[job.name] = now
            let logger = logger
            let task = Task.detached {
                do {
                    try await job.run()
                } catch is CancellationError {
                } catch {
                    logger.warning("scheduled job \(job.name) failed: \(error)")
                }
                await self.finished(job.name)
            }
            running[job.name] = task
            started[job.name] = task
        }
        return started
    }

    private func finished(_ name: String) {
        running[name] = nil
    }

    /// Ticks every `resolution` of `clock` until cancelled, then cancels the jobs still running
    /// and waits for them: a job stops at its next safe point (the mail job after the message it
    /// is sending, marked sent or not), never half-way through a write.
    func run<C: Clock>(clock: C, resolution: Duration = .seconds(1)) async where C.Duration == Duration {
        let start = clock.now
        while !Task.isCancelled {
            tick(at: start.duration(to: clock.now))
            try? await clock.sleep(for: resolution)
        }
        let tasks = Array(running.values)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    func run() async {
        await run(clock: ContinuousClock())
    }

    /// Every periodic job of `vigil serve`, in one place. `mail` only when a transport is configured.
    static func standardJobs(app: Application) throws -> [Job] {
        let db = app.db, services = app.vigilServices, config = services.configuration
        var jobs: [Job] = []
        var worker: OutboxWorker?
        if let url = config.smtpURL {
            let client = SMTPClient(configuration: try SMTPConfiguration(url: url))
            worker = OutboxWorker(db: db, sender: { try await client.send($0) }, from: config.mailFrom)
        } else if let path = config.sendmailPath {
            let transport = SendmailTransport(path: path, passEnvironment: config.sendmailEnvironment)
            worker = OutboxWorker(db: db, sender: { try await transport.send($0) }, from: config.mailFrom)
        }
        worker?.metrics = services.metrics
        if let address = config.bounceAddress { worker?.bounce = (address, services.secret) }
        if let worker {
            // Once per 5 s across the processes (so the pace is the whole site's), a twelfth of
            // the minute's messages, spaced over those seconds.
            let batch = max(1, config.mailPerMinute / 12)
            let pause = Duration.milliseconds(60_000 / config.mailPerMinute)
            jobs.append(Job.once("mail", every: .seconds(5), on: db) { try await worker.runOnce(limit: batch, pause: pause) })
        }
        // Scheduled publications: due ones go out once (the claim is in the publishing
        // transaction), at start too — one that came due while Vigil was down is published
        // then, and the newsroom home shows it as late.
        jobs.append(Job("schedules", every: .seconds(5)) { try await services.drafts.publishDue(on: db) })
        // Spent rate-limit hits go every minute (a report's within two minutes of it).
        // The jobs below run once per interval across every process on the database (`JobRuns`);
        // mail and schedules run in each process, safe because each message and each scheduled
        // item is claimed on its own.
        jobs.append(Job.once("rate-limits", every: .seconds(60), on: db) {
            try await db.writeTransaction { db in try await RateLimit.prune(on: db) }
        })
        jobs.append(Job.once("housekeeping", every: .seconds(3600), on: db) {
            // Includes the e-mail follows never confirmed, once their link expired (48 hours).
            try await Housekeeping.run(on: db, reportRetentionMonths: config.reportRetentionMonths)
        })
        jobs.append(Job.once("digests", every: .seconds(3600), on: db) {
            try await Digests.send(on: db, catalogue: services.catalogue, baseURL: services.baseURL,
                                   mailFrom: config.mailFrom, secret: services.secret, offered: services.languages.offered)
        })
        return jobs
    }
}

/// Runs the standard jobs in `vigil serve` (not in other commands, nor in tests).
struct SchedulerLifecycle: LifecycleHandler {
    final class Box: @unchecked Sendable { var task: Task<Void, Never>? }
    let box = Box()

    func didBootAsync(_ app: Application) async throws {
        let args = app.environment.arguments.dropFirst()
        guard (args.first(where: { !$0.hasPrefix("-") }) ?? "serve") == "serve", app.environment != .testing else { return }
        let scheduler = Scheduler(jobs: try Scheduler.standardJobs(app: app), logger: app.logger)
        box.task = Task { await scheduler.run() }
    }

    func shutdownAsync(_ app: Application) async {
        box.task?.cancel()
        await box.task?.value
    }
}
