import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Following cases and alerts")
struct FollowTests {
    @Test(arguments: TestStorage.available) func followGetAnAlertAndUnsubscribeInOneClick(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            #expect(try await b.get("/follow?case=demo-li-wei").0.status == .ok, "logged out: the e-mail form (ActionLoopTests)")
            try await AccountTests().signUpAndVerify(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": AccountTests().password], csrfFrom: "/login")
            let (page, html) = try await b.get("/follow?case=demo-li-wei")
            #expect(page.status == .ok && html.contains("Li Wei (fictional demo case)"))
            _ = try await b.post("/follow", ["case": "demo-li-wei"], csrfFrom: "/follow?case=demo-li-wei")
            _ = try await b.post("/follow", ["case": "demo-li-wei"], csrfFrom: "/follow?case=demo-li-wei")
            #expect(try await FollowModel.query(on: app.db).count() == 1, "following twice is one follow")
            #expect(try await b.get("/account").1.contains("Li Wei (fictional demo case)"))
            #expect(try await b.get("/follow?country=ZZ").0.status == .badRequest)

            // An editor publishes an update.
            let h = try await editorHeaders(app)
            let update = #"{"id":"ua-88-26-1-en","sequence":1,"kind":"update","language":"en","published":"2026-11-20","title":"Li Wei charged","summary":"He has been charged.","body":"Li Wei has been charged."}"#
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: h, json: update).status == .created)
            let mail = try #require(try await lastMail(to: "ana@example.org", app))
            #expect(mail.subject == "Urgent Action update UA 88/26: Li Wei charged")
            #expect(mail.textBody.contains("http://127.0.0.1:8080/en/urgent-actions/88-26/update-1"))
            #expect(mail.headersJSON.contains("List-Unsubscribe-Post") && mail.headersJSON.contains("One-Click"))
            let unsubscribe = try #require(link(in: mail.textBody, path: "/unsubscribe?token="))
            // A translation is no news.
            let translation = #"{"id":"ua-88-26-1-zh","sequence":1,"kind":"update","language":"zh-Hans","translation_of":"ua-88-26-1-en","published":"2026-11-20","title":"李伟被起诉","body":"李伟被起诉。"}"#
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: h, json: translation).status == .created)
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "ana@example.org").count() == 2, "verification + one alert")

            // One click, as a mail client does it: a POST with no cookies and no CSRF token.
            #expect(try await send(app, .GET, unsubscribe).status == .ok)
            let oneClick = try await app.testing().sendRequest(.POST, unsubscribe, headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                               body: ByteBuffer(string: "List-Unsubscribe=One-Click")) { $0.url = URI(string: unsubscribe) }
            #expect(oneClick.status == .ok)
            #expect(try await FollowModel.query(on: app.db).count() == 0)
            let forged = unsubscribe.replacingOccurrences(of: "token=", with: "token=00000000-0000-0000-0000-000000000000.")
            #expect(try await send(app, .GET, String(forged.prefix(60))).status == .badRequest)
        }
    }

    @Test(arguments: TestStorage.available) func documentsPublishedThroughCasesAndBundlesAlertToo(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "case@example.org")
            _ = try await b.post("/login", ["email": "case@example.org", "password": AccountTests().password], csrfFrom: "/login")
            _ = try await b.post("/follow", ["case": "demo-nour-hassan"], csrfFrom: "/follow?case=demo-nour-hassan")
            var kase = try demoBundle().cases.first { $0.id == "demo-nour-hassan" }!
            kase.urgentActions[0].documents = [Document(id: "ua-77-26-1-en", sequence: 1, kind: .update, language: "en",
                                                        published: PartialDate("2026-11-21")!, title: "Trial date set", body: "The trial starts soon.")]
            let put = try await send(app, .PUT, "/api/v1/cases/demo-nour-hassan", headers: try await editorHeaders(app), json: kase.json.serialized())
            #expect(put.status == .ok)
            #expect(try await lastMail(to: "case@example.org", app)?.subject == "Urgent Action update UA 77/26: Trial date set")
            // Re-sending the same case creates nothing and alerts nobody again.
            _ = try await send(app, .PUT, "/api/v1/cases/demo-nour-hassan", headers: try await editorHeaders(app), json: kase.json.serialized())
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "case@example.org").count() == 2)
            let page = try await html(app, "/urgent-actions/77-26/initial").body
            #expect(page.contains("0 actions reported for UA 77/26.") && page.contains("0 of them for this document."))
        }
    }

    @Test(arguments: TestStorage.available) func aCommandLineImportAlertsFollowersUnlessToldNotTo(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "cli@example.org")
            _ = try await b.post("/login", ["email": "cli@example.org", "password": AccountTests().password], csrfFrom: "/login")
            _ = try await b.post("/follow", ["case": "demo-li-wei"], csrfFrom: "/follow?case=demo-li-wei")
            func bundle(_ id: String, _ sequence: Int, _ title: String) throws -> Data {
                var kase = try demoBundle().cases.first { $0.id == "demo-li-wei" }!
                kase.urgentActions[0].documents = [Document(id: id, sequence: sequence, kind: .update, language: "en",
                                                            published: PartialDate("2026-11-2\(sequence)")!, title: title, body: "News.")]
                return VigilBundle(targets: [], cases: [kase]).json.data()
            }
            let (silent, none) = try await ImportCommand.importBundle(try bundle("ua-88-26-1-en", 1, "Back-filled"), alerts: false, app: app)
            #expect(silent.created == 1 && none == 0)
            #expect(try await lastMail(to: "cli@example.org", app)?.subject == "Confirm your e-mail address")
            let (loud, one) = try await ImportCommand.importBundle(try bundle("ua-88-26-2-en", 2, "Moved to a prison"), alerts: true, app: app)
            #expect(loud.created == 1 && one == 1)
            #expect(try await lastMail(to: "cli@example.org", app)?.subject == "Urgent Action update UA 88/26: Moved to a prison")
            // Re-importing the same bundle creates nothing and alerts nobody.
            let (_, again) = try await ImportCommand.importBundle(try bundle("ua-88-26-2-en", 2, "Moved to a prison"), alerts: true, app: app)
            #expect(again == 0)
        }
    }

    /// An archive's import creates tens of thousands of documents, and its alerts are queued in
    /// its write transaction: the documents of cases nobody follows are set aside first in a few
    /// statements. What is left must be exactly the originals of cases followed in any way.
    @Test(arguments: TestStorage.available) func onlyDocumentsOfFollowedCasesAreLookedAtForAlerts(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let all = try await DocumentModel.query(on: app.db).sort(\.$id).all()
            let uas = try await UrgentActionModel.query(on: app.db).all()
            func originals(of cases: Set<String>) -> Set<String> {
                Set(all.filter { d in d.translationOf == nil && uas.contains { $0.id == d.urgentActionID && cases.contains($0.caseID) } }.map { $0.id! })
            }
            func followed(_ ids: [String]? = nil) async throws -> Set<String> {
                try await Alerts.followedDocuments(ids ?? all.map { $0.id! }, on: app.db)
            }
            #expect(try await followed().isEmpty, "nobody follows anything yet")
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "follows@example.org")
            let supporter = try await SupporterModel.query(on: app.db).filter(\.$email == "follows@example.org").first()!.id!
            // A country in a weekly digest mails nothing now (the digest tells of it later).
            try await FollowController.follow(.country("EG"), supporter: supporter, digest: true, language: "en", consentText: "t", on: app.db)
            #expect(try await followed().isEmpty)
            try await FollowController.follow(.country("EG"), supporter: supporter, digest: false, language: "en", consentText: "t", on: app.db)
            #expect(try await followed() == originals(of: ["demo-nour-hassan"]))
            // A supporter whose address is not verified is mailed nothing.
            let account = try await SupporterModel.find(supporter, on: app.db)!
            let verified = account.emailVerifiedAt
            account.emailVerifiedAt = nil
            try await account.update(on: app.db)
            #expect(try await followed().isEmpty)
            account.emailVerifiedAt = verified
            try await account.update(on: app.db)
            #expect(try await followed() == originals(of: ["demo-nour-hassan"]))
            try await FollowController.follow(.theme("labour-rights"), supporter: supporter, digest: false, language: "en", consentText: "t", on: app.db)
            #expect(try await followed() == originals(of: ["demo-nour-hassan", "demo-li-wei"]))
            // By e-mail alone: only once confirmed.
            let f = EmailFollowModel()
            f.email = "reader@example.org"; f.caseID = "demo-ana-morales"; f.language = "es"
            f.consentText = "t"; f.consentVersion = "test"; f.consentAt = Date(); f.createdAt = Date()
            try await f.create(on: app.db)
            #expect(try await followed() == originals(of: ["demo-nour-hassan", "demo-li-wei"]))
            f.confirmedAt = Date()
            try await f.update(on: app.db)
            #expect(try await followed() == originals(of: ["demo-nour-hassan", "demo-li-wei", "demo-ana-morales"]))
            try await FollowController.follow(.case("crimean-tatar-defenders-kuku"), supporter: supporter, digest: false, language: "en",
                                              consentText: "t", on: app.db)
            let every = originals(of: ["demo-nour-hassan", "demo-li-wei", "demo-ana-morales", "crimean-tatar-defenders-kuku"])
            #expect(try await followed() == every && every.count >= 6 && every.count < all.count)
            // Only the documents asked about, and an unknown id is no one's.
            #expect(try await followed(["ua-126-19-1-en", "ua-126-19-0-ru", "no-such-document"]) == ["ua-126-19-1-en"])
            // A supporter who follows 40,000 made-up themes (any slug is accepted) must not make
            // the statement bind more values than the databases allow: every later publication with
            // alerts would fail in its transaction.
            for chunk in (0..<40_000).chunks(of: 1_000) {
                try await chunk.map { i in
                    let f = FollowModel()
                    f.supporterID = supporter; f.subjectKind = "theme"; f.subjectValue = "made-up-\(i)"; f.createdAt = Date()
                    f.digest = false; f.consentText = "t"; f.consentVersion = "test"; f.consentAt = Date()
                    return f
                }.create(on: app.db)
            }
            #expect(try await followed() == every)
        }
    }

    @Test(arguments: TestStorage.available) func aWeeklyDigestInsteadOfAnEmailPerUpdate(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "weekly@example.org")
            _ = try await b.post("/login", ["email": "weekly@example.org", "password": AccountTests().password], csrfFrom: "/login")
            _ = try await b.post("/follow", ["theme": "labour-rights", "frequency": "weekly"], csrfFrom: "/follow?theme=labour-rights")
            #expect(try await FollowModel.query(on: app.db).first()?.digest == true)
            let update = #"{"id":"ua-88-26-1-en","sequence":1,"kind":"update","language":"en","published":"2026-11-20","title":"Li Wei charged","body":"Charged."}"#
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: try await editorHeaders(app), json: update).status == .created)
            #expect(try await lastMail(to: "weekly@example.org", app)?.subject == "Confirm your e-mail address", "no immediate alert")
            let site = app.vigilServices
            let secret = app.vigilServices.secret
            let now = Date().addingTimeInterval(60)
            #expect(try await Digests.send(now: now, on: app.db, catalogue: site.catalogue, baseURL: "http://127.0.0.1:8080", mailFrom: "v@example.org", secret: secret) == 1)
            let digest = try #require(try await lastMail(to: "weekly@example.org", app))
            #expect(digest.subject == "Your weekly digest: 1 new")
            #expect(digest.textBody.contains("Li Wei charged") && digest.textBody.contains("/urgent-actions/88-26/update-1"))
            #expect(digest.headersJSON.contains("List-Unsubscribe"))
            // Not again within the week.
            #expect(try await Digests.send(now: now.addingTimeInterval(3600), on: app.db, catalogue: site.catalogue, baseURL: "x", mailFrom: "v@example.org", secret: secret) == 0)
        }
    }

    @Test(.enabled(if: SMTPSink.available)) func theAlertArrivesAtARealSMTPServer() async throws {
        let sink = try SMTPSink.endpoints()
        try await withApp { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "follower@example.org")
            _ = try await b.post("/login", ["email": "follower@example.org", "password": AccountTests().password], csrfFrom: "/login")
            _ = try await b.post("/follow", ["country": "EG"], csrfFrom: "/follow?country=EG")
            let outcome = #"{"id":"ua-77-26-1-en","sequence":1,"kind":"outcome","outcome":"good-news","no_further_action":true,"language":"en","published":"2026-11-25","title":"Nour Hassan released","body":"She is free."}"#
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/77-26/documents", headers: try await editorHeaders(app), json: outcome).status == .created)
            let client = SMTPClient(configuration: try SMTPConfiguration(url: "smtp://\(sink.plain)"))
            try await OutboxWorker(db: app.db, sender: { try await client.send($0) }, from: "Vigil <vigil@example.org>").runOnce()
            let alert = try #require(try await lastMail(to: "follower@example.org", app))
            #expect(alert.status == "sent")
            let got = try await SMTPSink.waitFor(alert.messageID, in: sink.dir)
            #expect(got.raw.contains("List-Unsubscribe: <http://127.0.0.1:8080/unsubscribe?token="))
            #expect(got.raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
        }
    }
}
