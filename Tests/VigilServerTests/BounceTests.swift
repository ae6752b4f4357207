import Foundation
import Testing
@testable import VigilServer

/// Bounces and complaints that come back by mail (`Bounces`, `vigil mail bounce`).
@Suite("Bounces and complaints")
struct BounceTests {
    let secret = ServerSecret(keyBytes: Data(repeating: 7, count: 32))
    let bounceAddress = "bounces@example.org"

    func envelope(_ to: String) -> String { Bounces.envelopeSender(for: to, bounceAddress: bounceAddress, secret: secret)! }

    /// A delivery status notification as Postfix writes one.
    func dsn(to envelopeTo: String, recipient: String, action: String = "failed", status: String = "5.1.1", crlf: Bool = false) -> Data {
        let text = """
            Return-Path: <>
            Delivered-To: \(envelopeTo)
            From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
            Subject: Undelivered Mail Returned to Sender
            To: \(envelopeTo)
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status;
            \tboundary="B0UND.1/mx.example.net"

            This is a MIME-encapsulated message.

            --B0UND.1/mx.example.net
            Content-Description: Notification
            Content-Type: text/plain; charset=us-ascii

            I'm sorry to have to inform you that your message could not be delivered.

            --B0UND.1/mx.example.net
            Content-Description: Delivery report
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.example.net
            X-Postfix-Queue-ID: 4ABC
            Arrival-Date: Tue,  1 Dec 2026 10:00:00 +0000 (UTC)

            Final-Recipient: rfc822; \(recipient)
            Original-Recipient: rfc822;\(recipient)
            Action: \(action)
            Status: \(status)
            Remote-MTA: dns; mail.example.com
            Diagnostic-Code: smtp; 550 5.1.1 <\(recipient)>: Recipient address rejected

            --B0UND.1/mx.example.net
            Content-Description: Undelivered Message Headers
            Content-Type: text/rfc822-headers

            From: Vigil <vigil@example.org>
            To: \(recipient)
            Subject: An urgent action

            --B0UND.1/mx.example.net--

            """
        return Data((crlf ? text.replacingOccurrences(of: "\n", with: "\r\n") : text).utf8)
    }

    /// An abuse report (RFC 5965) from a provider's feedback loop: the original message's headers
    /// include the Return-Path it was delivered with.
    func arf(returnPath: String, recipient: String) -> Data {
        Data("""
            From: feedback@provider.example
            To: abuse@example.org
            Subject: complaint about message from 192.0.2.1
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=feedback-report; boundary="part1"

            --part1
            Content-Type: text/plain

            This is an email abuse report.

            --part1
            Content-Type: message/feedback-report

            Feedback-Type: abuse
            User-Agent: SomeGenerator/1.0
            Version: 1

            --part1
            Content-Type: message/rfc822
            Content-Disposition: inline

            Return-Path: <\(returnPath)>
            Received: from mx.example.org by mail.provider.example
            From: Vigil <vigil@example.org>
            To: \(recipient)
            Subject: An urgent action

            The text.
            --part1--

            """.utf8)
    }

    @Test func theEnvelopeSenderCarriesATagThatNamesItsRecipientOnlyToTheSecretsHolder() throws {
        let sender = envelope("Ana@Example.com")
        #expect(sender.hasPrefix("bounces+") && sender.hasSuffix("@example.org"))
        let tag = try #require(Bounces.tag(in: sender, bounceAddress: bounceAddress))
        #expect(tag.count == 20)
        #expect(!sender.lowercased().contains("ana"))
        #expect(Bounces.verify(tag: tag, recipient: "ana@example.com", secret: secret))
        #expect(!Bounces.verify(tag: tag, recipient: "bo@example.com", secret: secret))
        #expect(!Bounces.verify(tag: tag, recipient: "ana@example.com", secret: ServerSecret(keyBytes: Data(repeating: 8, count: 32))))
        // A tag is good for the month it was made and three more, not for ever.
        let month: TimeInterval = 31 * 86_400
        #expect(Bounces.verify(tag: tag, recipient: "ana@example.com", secret: secret, now: Date().addingTimeInterval(2 * month)))
        #expect(!Bounces.verify(tag: tag, recipient: "ana@example.com", secret: secret, now: Date().addingTimeInterval(5 * month)))
        // Another domain or local part, or a tag that is not ours, is no tag.
        #expect(Bounces.tag(in: sender.replacingOccurrences(of: "example.org", with: "evil.example"), bounceAddress: bounceAddress) == nil)
        #expect(Bounces.tag(in: "bounces+zz@example.org", bounceAddress: bounceAddress) == nil)
        #expect(Bounces.tag(in: "bounces@example.org", bounceAddress: bounceAddress) == nil)
        // Mail sent before the secret was rotated still bounces home.
        let rotated = secret.rotated()
        #expect(Bounces.verify(tag: tag, recipient: "ana@example.com", secret: rotated))
    }

    @Test func aHardBounceSuppressesTheAddressItsTagNames() {
        for crlf in [false, true] {
            let v = Bounces.read(dsn(to: envelope("ana@example.com"), recipient: "ana@example.com", crlf: crlf),
                                 envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
            #expect(v.kind == .bounce)
            #expect(v.suppress == ["ana@example.com"])
        }
        // The recipient the mail server names, instead of the headers.
        let v = Bounces.read(dsn(to: "postmaster@example.org", recipient: "ana@example.com"), envelopeRecipient: envelope("ana@example.com"),
                             bounceAddress: bounceAddress, secret: secret)
        #expect(v.suppress == ["ana@example.com"])
    }

    @Test func aForgedReportCutsNobodyOff() {
        // Ana's tag, Bo's address: someone who had one of Ana's messages wants Bo cut off.
        let forged = Bounces.read(dsn(to: envelope("ana@example.com"), recipient: "bo@example.com"), envelopeRecipient: nil,
                                  bounceAddress: bounceAddress, secret: secret)
        #expect(forged.suppress.isEmpty)
        #expect(forged.unverified == 1)
        // No tag at all (sent to the bare bounce address).
        let untagged = Bounces.read(dsn(to: bounceAddress, recipient: "bo@example.com"), envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(untagged.suppress.isEmpty)
        #expect(untagged.note?.contains("no tag") == true)
    }

    @Test func onlyABadAddressIsAHardBounceNotAPolicyRefusalOrAFullMailbox() {
        // Gmail refusing the relay for SPF (5.7.26), a blocklisted relay (5.7.1), a full mailbox
        // (5.2.2), a routing failure (5.4.4): not the address's fault; nobody is suppressed.
        for status in ["5.7.26", "5.7.1 (blocked)", "5.2.2", "5.4.4", "5.0.0"] {
            let v = Bounces.read(dsn(to: envelope("ana@example.com"), recipient: "ana@example.com", status: status),
                                 envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
            #expect(v.suppress.isEmpty, "\(status)")
            #expect(v.notTheAddress == 1)
        }
        for status in ["5.1.1", "5.1.10", "5.2.1", "5.1.2 (no such domain)"] {
            #expect(Bounces.read(dsn(to: envelope("ana@example.com"), recipient: "ana@example.com", status: status),
                                 envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret).suppress == ["ana@example.com"], "\(status)")
        }
        #expect(Bounces.isBadAddress("5.1.1") && !Bounces.isBadAddress("4.1.1") && !Bounces.isBadAddress("garbage"))
    }

    @Test func aBounceAfterAForwardIsKnownByItsOriginalRecipient() {
        // Ana's address forwards to another mailbox, which does not exist any more.
        var text = String(decoding: dsn(to: envelope("ana@example.com"), recipient: "ana@forwarded.example"), as: UTF8.self)
        text = text.replacingOccurrences(of: "Original-Recipient: rfc822;ana@forwarded.example", with: "Original-Recipient: rfc822;ana@example.com")
        let v = Bounces.read(Data(text.utf8), envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(v.suppress == ["ana@example.com"])
    }

    @Test func aComplaintWithTheRecipientRedactedIsResolvedAmongTheAddressesMailed() {
        let redacted = arf(returnPath: envelope("ana@example.com"), recipient: "redacted@provider.example")
        let v = Bounces.read(redacted, envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(v.kind == .complaint && v.suppress.isEmpty && v.unresolvedTags.count == 1)
        #expect(Bounces.resolve(tags: v.unresolvedTags, candidates: ["bo@example.com", "Ana@Example.com", "cy@example.com"], secret: secret)
                == ["ana@example.com"])
        #expect(Bounces.resolve(tags: v.unresolvedTags, candidates: ["bo@example.com"], secret: secret).isEmpty)
    }

    @Test func aReportStuffedWithTagsAndAddressesIsReadInBoundedTime() {
        // Thousands of made-up tags in To and thousands of failed recipients: at most 32 tags and
        // 100 addresses are looked at (each a few HMACs), so one message cannot tie up the command.
        var to = (0..<5_000).map { String(format: "bounces+%020x@example.org", $0) }.joined(separator: ", ")
        to += ", " + envelope("ana@example.com")
        var blocks = ""
        for i in 0..<5_000 { blocks += "Final-Recipient: rfc822; victim\(i)@example.com\nAction: failed\nStatus: 5.1.1\n\n" }
        let message = Data("""
            To: \(to)
            Content-Type: multipart/report; report-type=delivery-status; boundary=x

            --x
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx

            \(blocks)
            --x--
            """.utf8)
        let v = Bounces.read(message, envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(v.suppress.isEmpty && v.unverified == Bounces.maxAddresses)
    }

    @Test func delaysAndAutomaticRepliesSuppressNothing() {
        let delayed = Bounces.read(dsn(to: envelope("ana@example.com"), recipient: "ana@example.com", action: "delayed", status: "4.4.1"),
                                   envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(delayed.suppress.isEmpty)
        #expect(delayed.transient == 1)
        let temporary = Bounces.read(dsn(to: envelope("ana@example.com"), recipient: "ana@example.com", status: "4.2.2"),
                                     envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(temporary.suppress.isEmpty)
        let vacation = Data("""
            Delivered-To: \(envelope("ana@example.com"))
            From: ana@example.com
            To: \(envelope("ana@example.com"))
            Auto-Submitted: auto-replied
            Subject: Out of office

            I am away until Monday. Final-Recipient: rfc822; ana@example.com
            Action: failed
            Status: 5.1.1

            """.utf8)
        let v = Bounces.read(vacation, envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret)
        #expect(v.kind == .none)
        #expect(v.suppress.isEmpty)
    }

    @Test func aComplaintSuppressesTheRecipientOfTheMessageComplainedOf() {
        let v = Bounces.read(arf(returnPath: envelope("ana@example.com"), recipient: "Ana <ana@example.com>"), envelopeRecipient: nil,
                             bounceAddress: bounceAddress, secret: secret)
        #expect(v.kind == .complaint)
        #expect(v.suppress == ["ana@example.com"])
        let forged = Bounces.read(arf(returnPath: envelope("ana@example.com"), recipient: "bo@example.com"), envelopeRecipient: nil,
                                  bounceAddress: bounceAddress, secret: secret)
        #expect(forged.suppress.isEmpty)
    }

    @Test func encodedAndMalformedReportsAreReadOrRefusedWithoutHarm() {
        // The delivery-status part in base64.
        let status = Data("Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; ana@example.com\nAction: failed\nStatus: 5.1.1\n".utf8).base64EncodedString()
        let b64 = Data("""
            To: \(envelope("ana@example.com"))
            Content-Type: multipart/report; report-type=delivery-status; boundary=x

            --x
            Content-Type: message/delivery-status
            Content-Transfer-Encoding: base64

            \(status)
            --x--
            """.utf8)
        #expect(Bounces.read(b64, envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret).suppress == ["ana@example.com"])
        // Garbage, nothing, deep nesting, no boundary: nothing suppressed, no crash.
        var nested = "Content-Type: multipart/mixed; boundary=a\n\n"
        for _ in 0..<200 { nested += "--a\nContent-Type: multipart/mixed; boundary=a\n\n" }
        for garbage in [Data(), Data([0xff, 0xfe, 0x00, 0x0a, 0x0a]), Data(nested.utf8),
                        Data("Content-Type: multipart/report; report-type=delivery-status\n\nFinal-Recipient: rfc822; a@b.c".utf8)] {
            #expect(Bounces.read(garbage, envelopeRecipient: nil, bounceAddress: bounceAddress, secret: secret).suppress.isEmpty)
        }
    }

    @Test func quotedPrintableBodiesAreDecoded() {
        #expect(String(decoding: MIMEPart.quotedPrintable(Data("Final-Recipient: rfc822; ana=40example.com=\nx".utf8)), as: UTF8.self)
                == "Final-Recipient: rfc822; ana@example.comx")
    }
}
