import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Issue #11, points 4 and 5: the thanks page that offers next steps instead of the counting form,
/// "did you send another one?" remembered in the browser, the tick "tell me what happens",
/// following a case with an e-mail address alone (confirmed by link, limited, no enumeration,
/// unsubscribe and "delete my data" in every alert), consent in the export, erasure, and log-in
/// that returns where the supporter was going without ever leaving the site.
@Suite("The action loop: thanks, double counting, following")
struct ActionLoopTests {
    static let document = "ua-88-26-0-en", official = "cn-provincial-procurator", caseID = "demo-li-wei"

    /// A fresh report form of `b`, filled in: the official, `channel`.
    func form(_ b: Browser, channel: String = "letter", _ extra: [String: String] = [:]) async throws -> [String: String] {
        try await ReportTests().reportForm(b, Self.document).merging(["channel": channel, "targets[]": Self.official]) { $1 }
            .merging(extra) { $1 }
    }

    /// The confirmation link of the last mail to `email`.
    func confirmLink(_ app: Application, _ email: String) async throws -> String {
        let mail = try #require(try await lastMail(to: email, app))
        return try #require(link(in: mail.textBody, path: "/follow/confirm?token="))
    }

    func reports(_ app: Application) async throws -> Int { try await ActionReportModel.query(on: app.db).count() }

    func logIn(_ app: Application, _ b: Browser, _ email: String) async throws {
        try await AccountTests().signUpAndVerify(app, b, email: email)
        let (res, _) = try await b.post("/login", ["email": email, "password": AccountTests().password], csrfFrom: "/login")
        #expect(res.status == .seeOther)
    }

    // MARK: Point 4 — the thanks page, and counting twice only on purpose

    @Test(arguments: TestStorage.available) func theThanksPageConfirmsAndOffersNextStepsButNoCountingForm(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            let (posted, _) = try await b.post("/report", try await form(b))
            let thanks = try #require(posted.headers.first(name: .location))
            #expect(posted.status == .seeOther && thanks.contains("thanks=new"))
            let (page, html) = try await b.get(thanks)
            #expect(page.status == .ok)
            #expect(html.contains("Thank you — your action is counted."))
            #expect(!html.contains("report-form") && !html.contains("name=\"key\"") && !html.contains("Count my action")
                    && !html.contains("action=\"/report\""), "no counting form on the thanks page")
            // Next steps: follow this case, the open actions, a different action on purpose, back.
            #expect(html.contains("href=\"/en/follow?case=demo-li-wei\"") && html.contains("Get updates on this case"))
            #expect(html.contains("href=\"/en/urgent-actions?status=open\""))
            #expect(html.contains("href=\"/en/report?document=ua-88-26-0-en&amp;again=1\""))
            // The urgent action's total first, the document's second.
            let ua = try #require(html.range(of: "1 action reported for UA 88/26."))
            let doc = try #require(html.range(of: "1 of them for this document."))
            #expect(ua.lowerBound < doc.lowerBound)
            // "Report a different action" opens the form on purpose; a bare thanks value shows the form too.
            #expect(try await b.get("/report?document=ua-88-26-0-en&thanks=new&again=1").1.contains("report-form"))
            #expect(try await b.get("/report?document=ua-88-26-0-en&thanks=bogus").1.contains("report-form"))
        }
    }

    @Test(arguments: TestStorage.available) func aSecondReportOfTheSameOfficialAndChannelAsksBeforeCounting(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            let (first, _) = try await b.post("/report", try await form(b))
            #expect(first.status == .seeOther); #expect(try await reports(app) == 1)
            // The cookie: only keyed hashes and times, HttpOnly, SameSite=Lax, for /report, for a day.
            let cookie = try #require(first.headers[.setCookie].first { $0.hasPrefix("vigil-reported=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/report") && cookie.contains("Max-Age=86400"))
            #expect(!cookie.contains("Secure"), "no TLS in tests")
            #expect(!cookie.contains("ua-88") && !cookie.contains("procurator") && !cookie.contains("letter"), "no ids in clear")
            // A new visit, the same official and channel: asked, nothing counted.
            var again = try await form(b)
            let (asked, html) = try await b.post("/report", again)
            #expect(asked.status == .ok && html.contains("Did you send another one?"))
            #expect(html.contains("name=\"confirm_again\" value=\"1\"") && html.contains("name=\"targets[]\" value=\"cn-provincial-procurator\""))
            #expect(try await reports(app) == 1, "asking counts nothing")
            // Confirmed: counted.
            again["confirm_again"] = "1"
            let (confirmed, _) = try await b.post("/report", again)
            #expect(confirmed.status == .seeOther && confirmed.headers.first(name: .location)?.contains("thanks=new") == true)
            #expect(try await reports(app) == 2)
            // The very same form sent again is a double submit: counted once, not asked.
            let (double, _) = try await b.post("/report", again.merging(["confirm_again": ""]) { $1 })
            #expect(double.status == .seeOther && double.headers.first(name: .location)?.contains("thanks=seen") == true)
            // Another channel is another action: no question.
            let (email, _) = try await b.post("/report", try await form(b, channel: "email"))
            #expect(email.status == .seeOther); #expect(try await reports(app) == 3)
            // Another browser (no cookie) is not asked: nothing is remembered on the server.
            let other = Browser(app)
            let (fresh, _) = try await other.post("/report", try await form(other))
            #expect(fresh.status == .seeOther); #expect(try await reports(app) == 4)
        }
    }

    @Test(arguments: TestStorage.available) func aGarbageOrHugeCookieIsHarmless(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let now = Int(Date().timeIntervalSince1970)
            let real = ReportedCookie.hash(document: Self.document, target: Self.official, channel: "letter", secret: app.vigilServices.secret)
            let garbage = [
                String(repeating: "A", count: 4000),
                String(repeating: "\(real)~\(now).", count: 200),  // the right entry, but far too long: ignored whole
                "%00%ff<script>~~..~\u{7f}",
                "\(real)~99999999999999999999",
                "\(real)~\(now + 3600)",  // from the future
                "\(real)~\(now - 90_000)",  // older than a day
                "\(real.prefix(15))~\(now)",
                "AAAAAAAAAAAAAAAA~\(now)",  // a hash of something else
            ]
            var counted = 0
            for value in garbage {
                let b = Browser(app)
                var f = try await form(b)
                b.cookies["vigil-reported"] = value
                let (res, _) = try await b.post("/report", f)
                #expect(res.status == .seeOther, "\(value.prefix(40))")
                counted += 1
                #expect(try await reports(app) == counted)
                // What the server sends back is bounded and well-formed.
                let set = res.headers[.setCookie].first { $0.hasPrefix("vigil-reported=") } ?? ""
                #expect(set.count < 200)
                f["key"] = "unused"
            }
            // The parser keeps at most 20 entries of the last day.
            let many = (0..<50).map { i in "\(String(format: "%016d", i))~\(now)" }.joined(separator: ".")
            #expect(ReportedCookie.parse(many, now: now).count <= ReportedCookie.maxEntries)
            #expect(ReportedCookie.parse("\(real)~\(now)", now: now) == [ReportedCookie.Entry(hash: real, at: now)])
        }
    }

    @Test(arguments: TestStorage.available) func theTickFollowsTheCaseAtOnceWhenLoggedIn(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await logIn(app, b, "tick@example.org")
            #expect(try await b.get("/report?document=\(Self.document)").1.contains("name=\"follow\""))
            let (res, _) = try await b.post("/report", try await form(b, ["follow": "1"]))
            let location = try #require(res.headers.first(name: .location))
            #expect(location.contains("followed=on"))
            let follow = try #require(try await FollowModel.query(on: app.db).first())
            #expect(follow.subjectKind == "case" && follow.subjectValue == Self.caseID && !follow.digest)
            #expect(follow.consentVersion == PrivacyNotice.version && follow.consentAt != nil && follow.consentText?.contains("Tell me what happens") == true)
            #expect(try await b.get(location).1.contains("You are following this case"))
            // Again (another channel, ticked again): still one follow; the form no longer offers the tick.
            _ = try await b.post("/report", try await form(b, channel: "email", ["follow": "1"]))
            #expect(try await FollowModel.query(on: app.db).count() == 1)
            let page = try await b.get("/report?document=\(Self.document)").1
            #expect(!page.contains("name=\"follow\"") && page.contains("You follow this case"))
        }
    }

    @Test(arguments: TestStorage.available) func theTickStartsAnEmailFollowWhenLoggedOut(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            // A tick without a usable address is refused before anything is counted.
            let (bad, text) = try await b.post("/report", try await form(b, ["follow": "1", "email": "not an address"]))
            #expect(bad.status == .unprocessableEntity && text.contains("Tell me what happens"))
            #expect(try await reports(app) == 0)
            let (res, _) = try await b.post("/report", try await form(b, ["follow": "1", "email": " Reader@Example.org "]))
            #expect(res.headers.first(name: .location)?.contains("followed=mail") == true); #expect(try await reports(app) == 1)
            let row = try #require(try await EmailFollowModel.query(on: app.db).first())
            #expect(row.email == "reader@example.org" && row.caseID == Self.caseID && row.confirmedAt == nil)
            let mail = try #require(try await lastMail(to: "reader@example.org", app))
            #expect(mail.subject.hasPrefix("Confirm: updates on"))
            #expect(link(in: mail.textBody, path: "/follow/confirm?token=") != nil)
            #expect(try await b.get(res.headers.first(name: .location)!).1.contains("Check your e-mail"))
        }
    }

    // MARK: Point 5 — following by e-mail alone

    /// Asks to follow `case` by e-mail as a logged-out visitor; returns the answer.
    func followByEmail(_ b: Browser, _ email: String, case id: String = caseID, consent: Bool = true,
                       headers: HTTPHeaders = [:]) async throws -> (TestingHTTPResponse, String) {
        var fields = ["case": id, "email": email, "language": "en"]
        if consent { fields["consent"] = "1" }
        return try await b.post("/follow", fields, csrfFrom: "/follow?case=\(Self.caseID)", headers: headers)
    }

    @Test(arguments: TestStorage.available) func aVisitorFollowsByEmailInThreeStepsAndHearsTheOutcome(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            // 1. The follow page: no log-in wall; an address, the consent, and a way to log in instead that comes back.
            let (page, html) = try await b.get("/follow?case=\(Self.caseID)")
            #expect(page.status == .ok && html.contains("type=\"email\"") && html.contains("name=\"consent\""))
            #expect(html.contains("href=\"/en/login?next=%2Fen%2Ffollow%3Fcase%3Ddemo-li-wei\""))
            // 2. The address.
            let (sent, text) = try await followByEmail(b, "visitor@example.org")
            #expect(sent.status == .ok && text.contains("Check your e-mail"))
            #expect(try await EmailFollowModel.query(on: app.db).first()?.confirmedAt == nil, "not active before the link")
            // 3. The link in the mail, and its button: confirmed.
            let mail = try #require(try await lastMail(to: "visitor@example.org", app))
            let confirm = try #require(link(in: mail.textBody, path: "/follow/confirm?token="))
            #expect(try await send(app, .GET, confirm).status == .ok, "opening the link changes nothing")
            #expect(try await EmailFollowModel.query(on: app.db).first()?.confirmedAt == nil)
            let (done, doneHTML) = try await b.confirm(confirm)
            #expect(done.status == .ok && doneHTML.contains("You are following") && doneHTML.contains("Li Wei (fictional demo case)"))
            let row = try #require(try await EmailFollowModel.query(on: app.db).first())
            #expect(row.confirmedAt != nil && row.tokenHash == nil && row.consentVersion == PrivacyNotice.version)
            #expect(try await b.confirm(confirm).0.status == .badRequest, "a link works once")

            // An outcome is published: the alert arrives, with unsubscribe and "delete my data".
            var kase = try demoBundle().cases.first { $0.id == Self.caseID }!
            kase.urgentActions[0].documents = [Document(id: "ua-88-26-1-en", sequence: 1, kind: .outcome, language: "en",
                                                        published: PartialDate("2026-11-28")!, title: "Li Wei released", body: "He is free.")]
            kase.urgentActions[0].status = .closed
            _ = try await app.vigilServices.publisher.publish(.bundleValue(VigilBundle(targets: [], cases: [kase])), by: .commandLine,
                                                              alerts: true, on: app.db)
            let alert = try #require(try await lastMail(to: "visitor@example.org", app))
            #expect(alert.subject.contains("Li Wei released"))
            #expect(alert.headersJSON.contains("List-Unsubscribe-Post") && alert.headersJSON.contains("One-Click"))
            #expect(alert.htmlBody?.contains("Download or delete my data") == true)
            let unsubscribe = try #require(link(in: alert.textBody, path: "/unsubscribe?token=e."))
            let data = try #require(link(in: alert.textBody, path: "/follow/data?token="))
            // "My data": the follow with its consent and the notice's version.
            let (dataPage, dataHTML) = try await b.get(data)
            #expect(dataPage.status == .ok && dataHTML.contains("visitor@example.org") && dataHTML.contains("privacy notice version \(PrivacyNotice.version)"))
            let token = String(data.split(separator: "=", maxSplits: 1)[1].prefix { $0 != "&" })
            let (export, json) = try await b.post("/follow/data/export.json", ["token": token], csrfFrom: data)
            #expect(export.status == .ok && export.headers.first(name: .contentDisposition)?.contains("attachment") == true)
            let value = try JSONValue.parse(Data(json.utf8))
            #expect(element(value["email_follows"], 0)?["consent"]?["privacy_notice_version"] == .string(PrivacyNotice.version))
            #expect(element(value["email_follows"], 0)?["case"] == .string(Self.caseID))
            // A forged data link shows nothing.
            #expect(try await b.get("/follow/data?token=\(row.id!.uuidString).AAAA").0.status == .badRequest)
            // One-click unsubscribe, as a mail client does it: the follow goes, and with the last one the mail to the address.
            let oneClick = try await app.testing().sendRequest(.POST, unsubscribe, headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                               body: ByteBuffer(string: "List-Unsubscribe=One-Click")) { $0.url = URI(string: unsubscribe) }
            #expect(oneClick.status == .ok)
            #expect(try await EmailFollowModel.query(on: app.db).count() == 0)
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "visitor@example.org").count() == 0)
            #expect(try await b.get(data).1.contains("We keep nothing under this link any more."))
        }
    }

    @Test(arguments: TestStorage.available) func deleteMyDataErasesEveryRowOfTheAddress(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            for id in [Self.caseID, "demo-nour-hassan"] {
                _ = try await followByEmail(b, "erase@example.org", case: id)
                let mail = try #require(try await lastMail(to: "erase@example.org", app))
                _ = try await b.confirm(try #require(link(in: mail.textBody, path: "/follow/confirm?token=")))
            }
            _ = try await followByEmail(b, "someone-else@example.org")
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "erase@example.org").filter(\.$confirmedAt != nil).count() == 2)
            let mail = try #require(try await lastMail(to: "erase@example.org", app))
            let data = try #require(link(in: mail.textBody, path: "/follow/data?token="))
            let token = String(data.split(separator: "=", maxSplits: 1)[1].prefix { $0 != "&" })
            // Without the form's CSRF token, nothing happens.
            #expect(try await b.post("/follow/data/delete", ["token": token]).0.status == .forbidden)
            #expect(try await b.post("/follow/data/delete", ["token": "x.y", "csrf": Browser.csrf(in: try await b.get(data).1)!]).0.status == .notFound)
            let (deleted, html) = try await b.post("/follow/data/delete", ["token": token], csrfFrom: data)
            #expect(deleted.status == .ok && html.contains("Your data is deleted"))
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "erase@example.org").count() == 0)
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "erase@example.org").count() == 0)
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "someone-else@example.org").count() == 1, "others' rows stay")
        }
    }

    @Test(arguments: TestStorage.available) func confirmationMailsAreLimitedPerAddressAndPerClientWithoutEnumeration(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            // An address that already follows (confirmed), one of an account, and a new one: the same answer.
            _ = try await followByEmail(b, "known@example.org")
            _ = try await b.confirm(try await confirmLink(app, "known@example.org"))
            try await AccountTests().signUpAndVerify(app, Browser(app), email: "account@example.org")
            var answers: [String] = []
            for who in ["known@example.org", "account@example.org", "new@example.org"] {
                let (res, html) = try await followByEmail(b, who)
                #expect(res.status == .ok)
                answers.append(html.replacingOccurrences(of: who, with: "ADDRESS"))
            }
            #expect(Set(answers).count == 1, "the answer never tells whether an address is known")
            #expect(try await lastMail(to: "known@example.org", app)?.subject.hasPrefix("You already follow") == true)
            // Per address: three confirmation mails a day, then the same answer and no mail.
            let before = try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "new@example.org").count()
            for _ in 0..<4 {
                let (res, html) = try await followByEmail(b, "new@example.org")
                #expect(res.status == .ok && html.contains("Check your e-mail"))
            }
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "new@example.org").count() == before + 2,
                    "3 a day for one address")
            // Per client: ten an hour from one address, then 429 and nothing written.
            // (So far 1 + 3 + 4 = 8 from this client, refused ones for an address included.)
            #expect(try await followByEmail(b, "ninth@example.org").0.status == .ok)
            #expect(try await followByEmail(b, "tenth@example.org").0.status == .ok)
            let (limited, _) = try await followByEmail(b, "eleventh@example.org")
            #expect(limited.status == .tooManyRequests && limited.headers.first(name: "Retry-After") != nil)
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "eleventh@example.org").count() == 0)
            #expect(try await lastMail(to: "eleventh@example.org", app) == nil)
        }
    }

    @Test(arguments: TestStorage.available) func badFollowRequestsAreRefusedAndWriteNothing(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            #expect(try await followByEmail(b, "no-consent@example.org", consent: false).0.status == .unprocessableEntity)
            #expect(try await followByEmail(b, "not an address").0.status == .unprocessableEntity)
            #expect(try await followByEmail(b, String(repeating: "a", count: 300) + "@example.org").0.status == .unprocessableEntity)
            #expect(try await b.post("/follow", ["case": Self.caseID, "email": "x@example.org", "consent": "1"]).0.status == .forbidden, "CSRF")
            #expect(try await followByEmail(b, "x@example.org", case: "no-such-case").0.status == .notFound)
            #expect(try await EmailFollowModel.query(on: app.db).count() == 0)
            #expect(try await OutboxMessageModel.query(on: app.db).count() == 0)
            // A country or a theme needs an account: log in, then come back.
            let (country, _) = try await b.get("/follow?country=EG")
            #expect(country.status == .seeOther && country.headers.first(name: .location) == "/en/login?next=%2Fen%2Ffollow%3Fcountry%3DEG")
            // Bad confirmation links.
            for token in ["", "nope", String(repeating: "x", count: 300)] {
                let (res, _) = try await b.post("/follow/confirm", ["token": token], csrfFrom: "/follow?case=\(Self.caseID)")
                #expect(res.status == .badRequest)
            }
            // An expired link confirms nothing, and the pending follow is erased with the next request.
            _ = try await followByEmail(b, "late@example.org")
            let confirm = try await confirmLink(app, "late@example.org")
            let pending = try #require(try await EmailFollowModel.query(on: app.db).filter(\.$email == "late@example.org").first())
            pending.tokenExpiresAt = Date().addingTimeInterval(-1)
            try await pending.update(on: app.db)
            #expect(try await b.confirm(confirm).0.status == .badRequest)
            try await EmailFollows.pruneUnconfirmed(on: app.db)
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "late@example.org").count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func theFollowPageSaysFollowingAndStops(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await logIn(app, b, "page@example.org")
            #expect(!(try await b.get("/follow?case=\(Self.caseID)").1.contains("Stop following")))
            let (followed, _) = try await b.post("/follow", ["case": Self.caseID], csrfFrom: "/follow?case=\(Self.caseID)")
            #expect(followed.status == .seeOther && followed.headers.first(name: .location) == "/en/follow?case=demo-li-wei")
            let (_, html) = try await b.get("/follow?case=\(Self.caseID)")
            #expect(html.contains("You are following Li Wei (fictional demo case). We will e-mail you at page@example.org"))
            #expect(html.contains("Stop following"))
            let follow = try #require(try await FollowModel.query(on: app.db).first())
            #expect(follow.consentVersion == PrivacyNotice.version)
            // Public pages stay the same for everyone: nothing personal on the case page.
            let publicPage = try await b.get("/cases/\(Self.caseID)").1
            #expect(!publicPage.contains("You are following") && !publicPage.contains("page@example.org"))
            // Stop (POST + CSRF): back on the page, which offers to follow again.
            let stop = "/account/follows/\(follow.id!.uuidString)/remove"
            #expect(try await b.post(stop, ["case": Self.caseID]).0.status == .forbidden)
            let (stopped, _) = try await b.post(stop, ["case": Self.caseID], csrfFrom: "/follow?case=\(Self.caseID)")
            #expect(stopped.status == .seeOther && stopped.headers.first(name: .location) == "/en/follow?case=demo-li-wei")
            #expect(try await FollowModel.query(on: app.db).count() == 0)
            // Another supporter cannot stop someone else's follow.
            _ = try await b.post("/follow", ["case": Self.caseID], csrfFrom: "/follow?case=\(Self.caseID)")
            let mine = try #require(try await FollowModel.query(on: app.db).first())
            let other = Browser(app)
            try await logIn(app, other, "other@example.org")
            _ = try await other.post("/account/follows/\(mine.id!.uuidString)/remove", [:], csrfFrom: "/account")
            #expect(try await FollowModel.query(on: app.db).count() == 1)
        }
    }

    // MARK: Log-in returns where the supporter was going, and nowhere else

    @Test func onlyLocalPathsAreAcceptedAsNext() {
        for good in ["/follow?case=demo-li-wei", "/account", "/report?document=ua-88-26-0-en&again=1"] {
            #expect(AccountController.localPath(good) == good)
        }
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil", "/%2f%2fevil", "/%5Cevil.example",
                    "/%252F%252Fevil", "javascript:alert(1)", "evil.example", "/a b", "/\u{0}x", "/\nLocation: x", "",
                    "/" + String(repeating: "a", count: 600), "/x?u=https://evil.example", "\\\\evil.example", "/é"] {
            #expect(AccountController.localPath(bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: TestStorage.available) func logInReturnsToNextButNeverLeavesTheSite(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // Two accounts, so that no one account meets the log-in limit (5 a minute from one client).
            try await AccountTests().signUpAndVerify(app, Browser(app), email: "next@example.org")
            try await AccountTests().signUpAndVerify(app, Browser(app), email: "next2@example.org")
            var attempts = 0
            func logIn(next: String) async throws -> String? {
                let b = Browser(app)
                attempts += 1
                let who = attempts <= 3 ? "next@example.org" : "next2@example.org"
                let (res, _) = try await b.post("/login", ["email": who, "password": AccountTests().password, "next": next],
                                                csrfFrom: "/login")
                #expect(res.status == .seeOther)
                return res.headers.first(name: .location)
            }
            for attempt in ["//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil", "/%2F%2Fevil.example/x"] {
                #expect(try await logIn(next: attempt) == "/en/account", "\(attempt)")
            }
            #expect(try await logIn(next: "/follow?case=demo-li-wei") == "/follow?case=demo-li-wei")
            // The log-in page carries a good next in its form, and drops a bad one.
            let (_, good) = try await Browser(app).get("/login?next=%2Ffollow%3Fcase%3Ddemo-li-wei")
            #expect(good.contains("name=\"next\" value=\"/follow?case=demo-li-wei\""))
            let (_, bad) = try await Browser(app).get("/login?next=%2F%2Fevil.example")
            #expect(!bad.contains("name=\"next\"") && !bad.contains("evil.example"))
            // Logged out on the follow page, "log in instead", and back to it.
            let b = Browser(app)
            let (_, page) = try await b.get("/follow?case=demo-li-wei")
            let r = try #require(page.range(of: "href=\"/en/login?next="))
            let href = String(page[r.lowerBound...].dropFirst(6).prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            let (_, form) = try await b.get(href)
            let (res, _) = try await b.post("/login", ["email": "next@example.org", "password": AccountTests().password, "next": "/follow?case=demo-li-wei",
                                                       "csrf": Browser.csrf(in: form) ?? ""])
            // `next` has no language: the page opens in the supporter's.
            #expect(res.headers.first(name: .location) == "/follow?case=demo-li-wei")
            // Already logged in, the log-in page sends on to next (checked the same way).
            #expect(try await b.get("/login?next=%2Ffollow%3Fcase%3Ddemo-li-wei").0.headers.first(name: .location) == "/follow?case=demo-li-wei")
            #expect(try await b.get("/login?next=%2F%2Fevil.example").0.headers.first(name: .location) == "/en/account")
        }
    }

    // MARK: Consent in the export, erasure

    @Test(arguments: TestStorage.available) func theExportShowsConsentAndErasureRemovesTheRows(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            // The address followed a case by e-mail first, then made an account.
            let visitor = Browser(app)
            _ = try await followByEmail(visitor, "both@example.org", case: "demo-nour-hassan")
            _ = try await visitor.confirm(try await confirmLink(app, "both@example.org"))
            let b = Browser(app)
            try await logIn(app, b, "both@example.org")
            _ = try await b.post("/follow", ["case": Self.caseID], csrfFrom: "/follow?case=\(Self.caseID)")
            let (res, body) = try await b.get("/account/export.json")
            #expect(res.status == .ok)
            let export = try JSONValue.parse(Data(body.utf8))
            let consent = try #require(element(export["follows"], 0)?["consent"])
            #expect(consent["privacy_notice_version"] == .string(PrivacyNotice.version))
            #expect(consent["agreed_to"] == .string(app.vigilServices.strings[EmailFollows.consentKey]))
            #expect(consent["at"] != nil)
            #expect(element(export["email_follows"], 0)?["case"] == .string("demo-nour-hassan"))
            #expect(element(export["email_follows"], 0)?["consent"]?["privacy_notice_version"] == .string(PrivacyNotice.version))
            // The privacy page names the version consent refers to.
            #expect(try await b.get("/privacy").1.contains(PrivacyNotice.version))
            // Erasing the account erases its follows and the address's e-mail follows.
            let (deleted, _) = try await b.post("/account/delete", ["password": AccountTests().password], csrfFrom: "/account/delete")
            #expect(deleted.status == .ok)
            #expect(try await FollowModel.query(on: app.db).count() == 0)
            #expect(try await EmailFollowModel.query(on: app.db).count() == 0)
        }
    }
}

/// The `i`th element of a JSON array.
private func element(_ value: JSONValue?, _ i: Int) -> JSONValue? {
    guard case .array(let a)? = value, a.indices.contains(i) else { return nil }
    return a[i]
}
