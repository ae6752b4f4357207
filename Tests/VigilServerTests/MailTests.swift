import Fluent
import Foundation
import NIOEmbedded
import Testing
import VaporTesting
@testable import VigilServer

/// The SMTP test server that `make test` starts (tests/smtp_sink.py, aiosmtpd).
enum SMTPSink {
    static var env: [String: String] { ProcessInfo.processInfo.environment }
    static var available: Bool { env["VIGIL_TEST_SMTP_DIR"] != nil || env["VIGIL_REQUIRE_SMTP"] == "1" }

    static func endpoints() throws -> (plain: String, tls: String, dir: String) {
        guard let plain = env["VIGIL_TEST_SMTP_PLAIN"], let tls = env["VIGIL_TEST_SMTP_TLS"], let dir = env["VIGIL_TEST_SMTP_DIR"] else {
            throw TestSetupError("VIGIL_REQUIRE_SMTP is set but no SMTP test server runs: run the tests with `make test`.")
        }
        return (plain, tls, dir)
    }

    /// Waits for the message with this Message-ID to arrive; returns its raw text and envelope.
    static func waitFor(_ messageID: String, in dir: String) async throws -> (raw: String, envelope: String) {
        for _ in 0..<100 {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for f in files where f.hasSuffix(".eml") {
                let path = (dir as NSString).appendingPathComponent(f)
                if let raw = try? String(contentsOfFile: path, encoding: .utf8), raw.contains(messageID) {
                    let envelope = (try? String(contentsOfFile: path.replacingOccurrences(of: ".eml", with: ".rcpt"), encoding: .utf8)) ?? ""
                    return (raw, envelope)
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("message \(messageID) did not arrive at the SMTP test server")
    }

    /// The decoded text/plain part of a message we sent.
    static func textPart(_ raw: String) -> String? {
        guard let start = raw.range(of: "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n") else { return nil }
        let rest = raw[start.upperBound...]
        let b64 = rest.prefix { $0 != "-" }.replacingOccurrences(of: "\r\n", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        return Data(base64Encoded: b64).map { String(decoding: $0, as: UTF8.self) }
    }
}

func sampleMessage(to: String = "supporter@example.org") -> MailMessage {
    MailMessage(from: "Vigil Россия <vigil@example.org>", to: to,
                subject: "Обновление: UA 126/19 — приговор оставлен в силе", text: "Здравствуйте,\n.точка в начале строки\nСпасибо.",
                html: "<p>Здравствуйте</p>", extraHeaders: [("List-Unsubscribe", "<https://ua.example.org/unsubscribe/abc>"),
                                                          ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")],
                messageID: MailMessage.newMessageID(domain: "example.org"), date: Date(timeIntervalSince1970: 1_600_000_000))
}

@Suite("Mail")
struct MailTests {
    @Test func messagesAreWellFormed() {
        let m = sampleMessage()
        let raw = m.rendered()
        #expect(raw.contains("Subject: =?UTF-8?B?"))
        #expect(raw.contains("From: =?UTF-8?B?") && raw.contains(" <vigil@example.org>"))
        #expect(raw.contains("Date: Sun, 13 Sep 2020 12:26:40 +0000"))
        #expect(raw.contains("Message-ID: <") && raw.contains("@example.org>"))
        #expect(raw.contains("MIME-Version: 1.0") && raw.contains("multipart/alternative"))
        #expect(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
        #expect(!raw.contains("\n") || raw.components(separatedBy: "\n").allSatisfy { $0.isEmpty || $0.hasSuffix("\r") || $0 == raw.components(separatedBy: "\n").last })
        for line in raw.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 998) }
        #expect(SMTPSink.textPart(raw) == m.text)
        // Each encoded word stays within 75 characters.
        for word in raw.split(whereSeparator: { $0 == " " || $0 == "\r" || $0 == "\n" }) where word.hasPrefix("=?UTF-8?B?") {
            #expect(word.count <= 75)
        }
        #expect(MailMessage.encodeHeader("plain ascii") == "plain ascii")
        #expect(MailMessage.encodeHeader("evil\r\nBcc: x@y") == "evil  Bcc: x@y", "no header injection")
    }

    @Test func configuration() throws {
        let c = try SMTPConfiguration(url: "smtps://user%40x:p%40ss@mail.example.org")
        #expect(c.security == .implicitTLS && c.port == 465 && c.username == "user@x" && c.password == "p@ss")
        #expect(try SMTPConfiguration(url: "smtp://h:2525?starttls=required").security == .startTLSRequired)
        #expect(throws: SMTPError.self) { try SMTPConfiguration(url: "http://h") }
        #expect(throws: SMTPError.self) { try SMTPConfiguration(url: "smtp://h?colour=red") }
    }

    /// A client that waits long for each reply. The conversation's next command is sent from a
    /// task on Swift's cooperative pool (two threads here), which the parallel suite's busiest
    /// tests can hold for more than the 30 s a reply may take; the server was waiting for us, not
    /// we for it. These tests check the conversation with a real server, not the time it takes.
    static func patient(_ configuration: SMTPConfiguration) -> SMTPClient {
        var client = SMTPClient(configuration: configuration)
        client.timeout = .seconds(600)
        return client
    }

    @Test(.enabled(if: SMTPSink.available)) func deliversToARealSMTPServer() async throws {
        let sink = try SMTPSink.endpoints()
        let message = sampleMessage()
        try await Self.patient(try SMTPConfiguration(url: "smtp://\(sink.plain)")).send(message)
        let got = try await SMTPSink.waitFor(message.messageID, in: sink.dir)
        #expect(SMTPSink.textPart(got.raw) == message.text, "dot-stuffing undone by the server, text intact")
        #expect(got.envelope.hasPrefix("vigil@example.org\nsupporter@example.org"))
    }

    @Test(.enabled(if: SMTPSink.available)) func startTLSAndAuthentication() async throws {
        let sink = try SMTPSink.endpoints()
        let message = sampleMessage()
        let url = "smtp://vigil:correct%20horse@\(sink.tls)?starttls=required&tls_verify=false"
        try await Self.patient(try SMTPConfiguration(url: url)).send(message)
        let got = try await SMTPSink.waitFor(message.messageID, in: sink.dir)
        #expect(got.envelope.contains("authenticated=True") && got.envelope.contains("tls=True"))
        // A wrong password is refused with the server's answer.
        let wrong = "smtp://vigil:nope@\(sink.tls)?starttls=required&tls_verify=false"
        await #expect(throws: SMTPError.self) { try await SMTPClient(configuration: try SMTPConfiguration(url: wrong)).send(sampleMessage()) }
        // Requiring TLS from a server that does not offer it fails before anything is sent.
        do {
            try await SMTPClient(configuration: try SMTPConfiguration(url: "smtp://\(sink.plain)?starttls=required")).send(sampleMessage())
            Issue.record("expected a TLS error")
        } catch SMTPError.tlsRequiredButNotOffered {
        }
    }

    @Test(.enabled(if: SMTPSink.available)) func credentialsNeverCrossAPlainConnection() async throws {
        // With a user and password, smtp:// insists on STARTTLS: the plain server (which offers
        // none, as when an attacker strips it) gets no AUTH command at all.
        #expect(try SMTPConfiguration(url: "smtp://u:p@mail.example.org").security == .startTLSRequired)
        #expect(try SMTPConfiguration(url: "smtp://mail.example.org").security == .opportunistic)
        #expect(try SMTPConfiguration(url: "smtp://u:p@127.0.0.1:25?auth=plaintext").security == .opportunistic)
        let sink = try SMTPSink.endpoints()
        do {
            try await SMTPClient(configuration: try SMTPConfiguration(url: "smtp://vigil:correct%20horse@\(sink.plain)")).send(sampleMessage())
            Issue.record("expected a TLS error")
        } catch SMTPError.tlsRequiredButNotOffered {
        }
    }

    /// A server that hangs up between two commands: the next reply fails at once instead of
    /// waiting for ever (the connection closes only once, so a timeout's close cannot rescue it);
    /// a timeout fails the reply it cuts short.
    @Test func aReplyAskedForAfterTheServerHungUpFailsAtOnce() throws {
        let handler = SMTPReplyHandler()
        let channel = EmbeddedChannel(handlers: [SMTPReplyDecoder(), handler])
        var waiting: Result<SMTPReply, any Error>?
        handler.next(on: channel.eventLoop).whenComplete { waiting = $0 }
        #expect(waiting == nil)
        channel.pipeline.fireChannelInactive()
        guard case .failure = waiting else { Issue.record("the reply waited for when the server hung up did not fail"); return }
        var later: Result<SMTPReply, any Error>?
        handler.next(on: channel.eventLoop).whenComplete { later = $0 }
        guard case .failure(let error) = later else { Issue.record("a reply asked for after the hang-up waits for ever"); return }
        guard case .connectionClosed? = error as? SMTPError else { Issue.record("\(error)"); return }
        // A timeout fails what waits, with its own reason.
        let other = SMTPReplyHandler()
        let channel2 = EmbeddedChannel(handlers: [SMTPReplyDecoder(), other])
        var cut: Result<SMTPReply, any Error>?
        other.next(on: channel2.eventLoop).whenComplete { cut = $0 }
        other.failAll(SMTPError.timeout)
        guard case .failure(let reason) = cut else { Issue.record("a timeout left the reply waiting"); return }
        guard case .timeout? = reason as? SMTPError else { Issue.record("\(reason)"); return }
    }

    @Test func repliesSentInClearBeforeTheTLSSwitchAreForgotten() throws {
        let decoder = SMTPReplyDecoder(), handler = SMTPReplyHandler()
        let channel = EmbeddedChannel(handlers: [decoder, handler])
        func next() -> SMTPReply? {
            var got: SMTPReply?
            handler.next(on: channel.eventLoop).whenSuccess { got = $0 }
            return got
        }
        // An attacker appends a reply of its own to the server's 220, in clear, in the same packet…
        try channel.writeInbound(ByteBuffer(string: "220 go ahead\r\n250 injected\r\n250-half"))
        #expect(next()?.code == 220)
        // …and the client switches to TLS the way SMTPClient does: all of it is forgotten.
        decoder.reset()
        handler.discardEarly()
        try channel.writeInbound(ByteBuffer(string: "250 fresh\r\n"))
        #expect(next()?.lines == ["fresh"])
        #expect(next() == nil)
    }

    @Test(.enabled(if: SMTPSink.available)) func theOutboxDeliversRetriesAndGivesUp() async throws {
        let sink = try SMTPSink.endpoints()
        try await withApp { app in
            let from = "Vigil <vigil@example.org>"
            let good = try await Outbox.enqueue(to: "reader@example.org", subject: "Ваше письмо", text: "Спасибо", html: nil, from: from, on: app.db)
            let bounced = try await Outbox.enqueue(to: "bounce@example.org", subject: "x", text: "x", html: nil, from: from, on: app.db)
            let client = SMTPClient(configuration: try SMTPConfiguration(url: "smtp://\(sink.plain)"))
            let worker = OutboxWorker(db: app.db, sender: { try await client.send($0) }, from: from)
            #expect(try await worker.runOnce() == 1)
            _ = try await SMTPSink.waitFor(good.messageID, in: sink.dir)
            #expect(try await OutboxMessageModel.find(good.id, on: app.db)?.status == "sent")
            let failed = try #require(try await OutboxMessageModel.find(bounced.id, on: app.db))
            #expect(failed.status == "failed" && failed.lastError?.contains("550") == true, "a 5xx for the recipient is permanent")
            #expect(try await worker.runOnce() == 0, "nothing is sent twice")

            // The server is down: the message waits and is retried later.
            let later = try await Outbox.enqueue(to: "reader@example.org", subject: "later", text: "x", html: nil, from: from, on: app.db)
            let down = SMTPClient(configuration: try SMTPConfiguration(url: "smtp://127.0.0.1:9"))
            let t0 = Date()
            #expect(try await OutboxWorker(db: app.db, sender: { try await down.send($0) }, from: from, now: { t0 }).runOnce() == 0)
            let waiting = try #require(try await OutboxMessageModel.find(later.id, on: app.db))
            #expect(waiting.status == "pending" && waiting.attempts == 1)
            #expect(abs(waiting.nextAttemptAt.timeIntervalSince(t0) - 60) < 1)
            // Not due yet; then due, and delivered.
            #expect(try await worker.runOnce() == 0)
            #expect(try await OutboxWorker(db: app.db, sender: { try await client.send($0) }, from: from, now: { t0.addingTimeInterval(61) }).runOnce() == 1)

            // A claim left by a process that died mid-send is released after ten minutes.
            let orphan = try await Outbox.enqueue(to: "reader@example.org", subject: "orphan", text: "x", html: nil, from: from, on: app.db)
            orphan.status = "sending"; orphan.claimedAt = Date().addingTimeInterval(-3600)
            try await orphan.update(on: app.db)
            #expect(try await worker.runOnce() == 1)
        }
    }
}
