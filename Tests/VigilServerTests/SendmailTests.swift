import Fluent
import Foundation
import Testing
@testable import VigilServer

/// The sendmail transport against small programs that behave like sendmail in its various moods.
@Suite("Mail through a sendmail-compatible program")
final class SendmailTests: Sendable {
    /// This test's scripts and what they write, removed when it ends.
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-sendmail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes an executable shell script and returns its path.
    func script(_ body: String) throws -> String {
        let path = directory.appendingPathComponent("sendmail-\(UUID().uuidString).sh").path
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    func message(_ text: String = "Привет,\n\nэто проверка.") -> MailMessage {
        MailMessage(from: "Vigil <vigil@example.org>", to: "Ана <ana@example.org>", subject: "Проверка", text: text,
                    messageID: MailMessage.newMessageID(domain: "example.org"), date: Date())
    }

    @Test func pipesTheMessageWithTheEnvelopeAsArguments() async throws {
        let out = directory.appendingPathComponent("out").path
        let path = try script("echo \"$@\" > \(out).args\ncat > \(out).eml")
        let m = message()
        try await SendmailTransport(path: path).send(m)
        #expect(try String(contentsOfFile: out + ".args", encoding: .utf8) == "-i -f vigil@example.org -- ana@example.org\n")
        let raw = try String(contentsOfFile: out + ".eml", encoding: .utf8)
        #expect(!raw.contains("\r"), "local line endings")
        #expect(raw.contains("Subject: =?UTF-8?B?") && raw.contains("Message-ID: \(m.messageID)"))
        #expect(raw == m.rendered().replacingOccurrences(of: "\r\n", with: "\n"))
        // With a bounce address, the envelope sender is the tagged one; the From header stays.
        var tagged = message()
        tagged.envelopeFrom = "bounces+0123456789abcdef0123@example.org"
        try await SendmailTransport(path: path).send(tagged)
        #expect(try String(contentsOfFile: out + ".args", encoding: .utf8) == "-i -f bounces+0123456789abcdef0123@example.org -- ana@example.org\n")
        #expect(try String(contentsOfFile: out + ".eml", encoding: .utf8).contains("From: \"Vigil\" <vigil@example.org>"))
    }

    @Test func failuresSayWhyAndWhetherToRetry() async throws {
        let noUser = try script("cat > /dev/null; echo 'ana@example.org... User unknown' >&2; exit 67")
        let e = await #expect(throws: SendmailError.self) { try await SendmailTransport(path: noUser).send(message()) }
        #expect(e?.isPermanent == true && e?.description.contains("User unknown") == true)
        let tempFail = try script("cat > /dev/null; exit 75")
        let t = await #expect(throws: SendmailError.self) { try await SendmailTransport(path: tempFail).send(message()) }
        #expect(t?.isPermanent == false)
        let missing = await #expect(throws: SendmailError.self) { try await SendmailTransport(path: "/nonexistent/sendmail").send(message()) }
        #expect(missing?.isPermanent == false)
    }

    @Test func aProgramThatStopsReadingOrHangsIsAnErrorNotACrash() async throws {
        // Exits at once without reading 2 MB: the write fails (no SIGPIPE death), the message is not taken.
        let quitter = try script("exit 0")
        let big = message(String(repeating: "x", count: 2_000_000))
        await #expect(throws: SendmailError.self) { try await SendmailTransport(path: quitter).send(big) }
        // Hangs (its child keeps stderr open): stopped after the timeout, to be retried later.
        let sleeper = try script("cat > /dev/null; sleep 30")
        let e = await #expect(throws: SendmailError.self) { try await SendmailTransport(path: sleeper, timeout: 1).send(message()) }
        #expect(e?.isPermanent == false && e?.description.contains("no answer within 1 s") == true)
    }

    @Test(arguments: TestStorage.available) func theOutboxWorkerMarksSentFailedOrRetries(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let ok = try script("cat > /dev/null")
            let noUser = try script("cat > /dev/null; exit 67")
            let tempFail = try script("cat > /dev/null; exit 75")
            for (to, path) in [("ok@example.org", ok), ("nouser@example.org", noUser), ("later@example.org", tempFail)] {
                try await Outbox.enqueue(to: to, subject: "Hello", text: "Text", html: nil, from: "v@example.org", on: app.db)
                let transport = SendmailTransport(path: path)
                try await OutboxWorker(db: app.db, sender: { try await transport.send($0) }, from: "v@example.org").runOnce()
            }
            let rows = try await OutboxMessageModel.query(on: app.db).all()
            let status = Dictionary(uniqueKeysWithValues: rows.map { ($0.toAddress, $0.status) })
            #expect(status == ["ok@example.org": "sent", "nouser@example.org": "failed", "later@example.org": "pending"])
            #expect(rows.first { $0.toAddress == "later@example.org" }?.attempts == 1)
        }
    }

    @Test func configuration() throws {
        let sh = "/bin/sh"
        #expect(try VigilConfiguration.fromEnvironment(["VIGIL_SENDMAIL": sh]).sendmailPath == sh)
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_SENDMAIL": "sendmail"]) }
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_SENDMAIL": "/etc/passwd"]) }
        #expect(throws: VigilConfiguration.Problem.self) {
            try VigilConfiguration.fromEnvironment(["VIGIL_SENDMAIL": sh, "VIGIL_SMTP_URL": "smtp://localhost"])
        }
    }
}
