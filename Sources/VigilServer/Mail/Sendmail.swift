import Foundation

/// A sendmail-compatible binary failed to take a message.
struct SendmailError: Error, CustomStringConvertible {
    let status: Int32
    let message: String
    /// sysexits.h: EX_DATAERR, EX_NOUSER and EX_NOHOST will not get better by retrying.
    var isPermanent: Bool { [65, 67, 68].contains(status) }
    /// `EX_NOUSER` or `EX_NOHOST`: the address itself is refused.
    var refusesRecipient: Bool { [67, 68].contains(status) }
    var description: String { "sendmail exited with status \(status)\(message.isEmpty ? "" : ": \(message)")" }
}

/// Delivers by piping the message to a sendmail-compatible program (`sendmail -i -f FROM -- TO`),
/// as Postfix, Exim, OpenSMTPD, msmtp and nullmailer all accept. Exit status 0 means the
/// program has taken responsibility for the message.
struct SendmailTransport: Sendable {
    let path: String
    var timeout: TimeInterval = 60
    /// Further variables the program may see (`VIGIL_SENDMAIL_ENV`), beside the minimal set.
    var passEnvironment: [String] = []

    func send(_ message: MailMessage) async throws {
        // Local mail programs expect local line endings.
        let data = Data(message.rendered().replacingOccurrences(of: "\r\n", with: "\n").utf8)
        let arguments = ["-i", "-f", message.envelopeSender, "--", MailMessage.address(message.to)]
        let (path, timeout) = (self.path, self.timeout)
        let environment = Self.minimalEnvironment(passing: passEnvironment)
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try Self.run(path: path, arguments: arguments, input: data, timeout: timeout, environment: environment)
                    done.resume()
                } catch {
                    done.resume(throwing: error)
                }
            }
        }
    }

    /// Runs the program in its own process group with `input` on standard input; on timeout the
    /// whole group is killed (a program that hangs in a child of its own is stopped too).
    /// posix_spawn rather than Foundation's Process: Process waits for every inheritor of its
    /// internal descriptors, so it cannot tell "the program exited" from "its child still runs".
    /// What a mail program needs and nothing else: a PATH, a locale, a home and a temp directory,
    /// and the variables the operator named in `VIGIL_SENDMAIL_ENV` (never Vigil's secret or the
    /// database URL: the configuration refuses those names).
    static func minimalEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment, passing: [String] = []) -> [String] {
        var out = ["PATH=\(env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")"]
        for key in ["HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER", "LOGNAME"] + passing where !neverPassed.contains(key) {
            if let v = env[key] { out.append("\(key)=\(v)") }
        }
        return out
    }

    static let neverPassed: Set<String> = ["VIGIL_SECRET_KEY", "VIGIL_SECRET_PREVIOUS_KEYS", "VIGIL_SECRET_FILE", "DATABASE_URL", "VIGIL_SMTP_URL"]

    static func run(path: String, arguments: [String], input: Data, timeout: TimeInterval,
                    environment: [String] = minimalEnvironment()) throws {
        // A program that exits before reading everything must not kill Vigil with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var inPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0 else { throw SendmailError(status: 71, message: "cannot make a pipe") }
        guard pipe(&errPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1])
            throw SendmailError(status: 71, message: "cannot make a pipe")
        }
        // Close-on-exec everywhere: the child gets only its dup2'd copies (or it would hold its own
        // standard input open and never see its end).
        for fd in inPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults); sigaddset(&defaults, SIGPIPE); sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        // A minimal environment: never Vigil's secret key or the database password.
        let envp = environment.map { strdup($0) } + [nil]
        defer { for e in envp { free(e) } }
        var pid: pid_t = 0
        var spawned = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        // ETXTBSY: the program file is still open for writing somewhere (being replaced by an
        // upgrade, or a descriptor inherited by another process's fork for a moment). Wait a
        // little rather than count a busy file as a failed delivery.
        var tries = 0
        while spawned == ETXTBSY, tries < 50 {
            usleep(20_000)
            tries += 1
            spawned = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        }
        close(inPipe[0]); close(errPipe[1])
        guard spawned == 0 else {
            close(inPipe[1]); close(errPipe[0])
            throw SendmailError(status: 69, message: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }

        // Standard input is written on another thread, so that reading stderr and the timeout go on.
        let writer = DispatchGroup()
        let wrote = WriteResult()
        writer.enter()
        let writeFD = inPipe[1]
        Thread.detachNewThread {
            input.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < buffer.count {
                    let n = write(writeFD, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 { if errno == EINTR { continue }; wrote.failed(); break }
                    offset += n
                }
            }
            close(writeFD)
            writer.leave()
        }

        var errors = Data(), status: Int32 = 0, timedOut = false, errOpen = true
        var exitedAt: Date?
        let deadline = Date().addingTimeInterval(timeout)
        var pfd = pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)
        while true {
            if errOpen, poll(&pfd, 1, 20) > 0 {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = read(errPipe[0], &chunk, chunk.count)
                if n > 0 { if errors.count < 4096 { errors.append(contentsOf: chunk[0..<n]) } } else if n == 0 { errOpen = false }
            } else if !errOpen {
                usleep(5_000)
            }
            if exitedAt == nil, waitpid(pid, &status, WNOHANG) == pid { exitedAt = Date() }
            if let t = exitedAt {
                // A child the program left behind may keep stderr open: wait for it a little, not forever.
                if !errOpen || Date().timeIntervalSince(t) > 1 { break }
                continue
            }
            if Date() > deadline {
                timedOut = true
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
        }
        close(errPipe[0])
        writer.wait()
        let text = String(decoding: errors.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if timedOut { throw SendmailError(status: 75, message: "no answer within \(Int(timeout)) s; stopped") }
        // WIFSIGNALED / WEXITSTATUS by hand (the C macros are not imported).
        if status & 0x7f != 0 { throw SendmailError(status: 75, message: "killed by signal \(status & 0x7f)") }
        let code = (status >> 8) & 0xff
        guard code == 0 else { throw SendmailError(status: code, message: text) }
        if wrote.didFail { throw SendmailError(status: 74, message: "the program exited before reading the whole message") }
    }

    final class WriteResult: @unchecked Sendable {
        private let lock = NSLock()
        private var _failed = false
        func failed() { lock.withLock { _failed = true } }
        var didFail: Bool { lock.withLock { _failed } }
    }
}
