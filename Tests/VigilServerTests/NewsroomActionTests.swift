import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The newsroom's urgent-action pages: the list, one action's page, and the publisher's forms
/// that withdraw, redact and republish through the one publishing path.
@Suite("Newsroom: urgent actions")
struct NewsroomActionTests {
    let password = NewsroomLogin.password
    static let page = "/newsroom/urgent-actions/126-19"
    static let posts = ["withdraw", "republish", "redact"].map { "\(page)/\($0)" }

    @Test(arguments: TestStorage.available) func aPublisherWithdrawsRedactsAndRepublishesFromThePage(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup
            try await loadDemo(app)
            let b = Browser(app)
            try await NewsroomLogin.account(app, b, email: "pub@example.org", roles: [.publisher])
            let me = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "pub@example.org").first()?.id)
            // The home's tool, the list (newest first) and the find form.
            #expect(try await b.get("/newsroom").1.contains(#"<a href="/en/newsroom/urgent-actions">Urgent actions</a>"#))
            let (list, listed) = try await b.get("/newsroom/urgent-actions")
            #expect(list.status == .ok && list.headers.first(name: .cacheControl) == "no-store")
            #expect(listed.contains(#"<a href="/en/newsroom/urgent-actions/126-19">UA 126/19</a>"#))
            let order = ["88-26", "77-26", "126-19"].compactMap { listed.range(of: "href=\"/en/newsroom/urgent-actions/\($0)\"")?.lowerBound }
            #expect(order.count == 3 && order == order.sorted(), "newest first")
            let (found, _) = try await b.get("/newsroom/urgent-actions?number=UA+126%2F19")
            #expect(found.status == .seeOther && found.headers.first(name: .location) == "/en" + Self.page)
            let (missing, missingText) = try await b.get("/newsroom/urgent-actions?number=999%2F19")
            #expect(missing.status == .notFound && missingText.contains("There is no UA 999/19."))
            #expect(try await b.get("/newsroom/urgent-actions?number=nonsense").0.status == .badRequest)
            #expect(try await b.get("/newsroom/urgent-actions/999-19").0.status == .notFound)
            // The action's page: documents, translations, public links, standing, the withdraw form only.
            let (page, before) = try await b.get(Self.page)
            #expect(page.status == .ok)
            #expect(before.contains(#"href="/en/urgent-actions/126-19/initial""#) && before.contains(#"href="/ru/urgent-actions/126-19/initial""#))
            #expect(before.contains("Urgent Action outcome") && before.contains("Closed"))
            #expect(before.contains(#"action="/newsroom/urgent-actions/126-19/withdraw""#))
            #expect(!before.contains(#"action="/newsroom/urgent-actions/126-19/republish""#) && !before.contains(#"action="/newsroom/urgent-actions/126-19/redact""#))

            // act: withdraw
            let reason = "Naming Emir-Usein Kuku endangers his family."
            let (withdrawn, shown) = try await b.post("\(Self.page)/withdraw", ["reason": reason, "current": password], csrfFrom: Self.page)

            // check
            #expect(withdrawn.status == .ok, "\(shown.prefix(2000))")
            #expect(shown.contains("UA 126/19 is withdrawn") && shown.contains(reason), "the notice and the internal reason")
            #expect(!shown.contains(#"href="/en/urgent-actions/126-19/initial""#), "no public links while withdrawn")
            #expect(shown.contains(#"action="/newsroom/urgent-actions/126-19/republish""#) && shown.contains(#"action="/newsroom/urgent-actions/126-19/redact""#))
            #expect(shown.contains(#"value="[name withheld]""#), "the redaction's default")
            #expect(try await html(app, "/urgent-actions/126-19").status == .gone)
            #expect(try await html(app, "/urgent-actions/126-19/initial").status == .gone)
            let home = try await b.get("/newsroom").1
            #expect(home.contains(#"<li><a href="/en/newsroom/urgent-actions/126-19">UA 126/19</a>"#), "the home links the withdrawn action")
            #expect(try await b.get("/newsroom/urgent-actions").1.contains("withdrawn</strong>"))

            // act: redact, then republish
            let (redacted, redactedText) = try await b.post("\(Self.page)/redact", ["from": "Emir-Usein Kuku", "to": "[name withheld]", "current": password],
                                                            csrfFrom: Self.page)
            #expect(redacted.status == .ok, "\(redactedText.prefix(2000))")
            #expect(redactedText.contains("every stored copy now says"))
            let (back, backText) = try await b.post("\(Self.page)/republish", ["current": password], csrfFrom: Self.page)
            #expect(back.status == .ok && backText.contains("UA 126/19 is back on the public site"))

            // check: the public page is back, without the name
            let doc = try await html(app, "/urgent-actions/126-19/initial")
            #expect(doc.status == .ok && !doc.body.contains("Emir-Usein Kuku") && doc.body.contains("[name withheld]"))
            #expect(try await UrgentActionModel.find("126-19", on: app.db)?.withdrawnReason == nil)
            // The audit log names the account for each.
            let entries = try await AuditEntryModel.query(on: app.db)
                .filter(\.$action ~~ ["urgent_action.withdraw", "urgent_action.redact", "urgent_action.republish"]).sort(\.$id).all()
            #expect(entries.map(\.action) == ["urgent_action.withdraw", "urgent_action.redact", "urgent_action.republish"])
            for e in entries {
                #expect(e.actorKind == "account" && e.actorID == me.uuidString.lowercased() && e.subject == "ua:126-19", "\(e.action)")
            }
            #expect(try await PublishingLog.recent(on: app.db).prefix(3).allSatisfy { $0.author == "editor:\(me.uuidString.lowercased())" })
        }
    }

    @Test(arguments: TestStorage.available) func refusalsChangeNothing(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await NewsroomLogin.account(app, b, email: "pub@example.org", roles: [.publisher])
            func unchanged() async throws -> Bool { try await UrgentActionModel.find("126-19", on: app.db)?.withdrawnAt == nil }

            // A wrong password: 401, nothing written, what was typed kept.
            let (wrong, wrongText) = try await b.post("\(Self.page)/withdraw", ["reason": "A safety reason", "current": "not my password"], csrfFrom: Self.page)
            #expect(wrong.status == .unauthorized && wrongText.contains("A safety reason"))
            #expect(try await unchanged())
            // No reason, a blank one, a long one: 422 with the message on the page.
            for reason in ["", "   ", String(repeating: "x", count: 501)] {
                let (bad, text) = try await b.post("\(Self.page)/withdraw", ["reason": reason, "current": password], csrfFrom: Self.page)
                #expect(bad.status == .unprocessableEntity, "\(reason.count)")
                #expect(text.contains("Say why the urgent action is withdrawn") || text.contains("at most 500 characters"))
            }
            let (noReason, _) = try await b.post("\(Self.page)/withdraw", ["current": password], csrfFrom: Self.page)
            #expect(noReason.status == .unprocessableEntity)
            // Redact or republish while published: 409 with the reason.
            let (conflict, conflictText) = try await b.post("\(Self.page)/redact", ["from": "Vadim Siruk", "to": "V. S.", "current": password],
                                                            csrfFrom: Self.page)
            #expect(conflict.status == .conflict && conflictText.contains("UA 126/19 is published: withdraw it before redacting it."))
            let (republish, republishText) = try await b.post("\(Self.page)/republish", ["current": password], csrfFrom: Self.page)
            #expect(republish.status == .conflict && republishText.contains("UA 126/19 is not withdrawn."))
            let (noFrom, _) = try await b.post("\(Self.page)/redact", ["from": "", "to": "x", "current": password], csrfFrom: Self.page)
            #expect(noFrom.status == .unprocessableEntity)
            #expect(try await b.post("/newsroom/urgent-actions/999-19/withdraw", ["reason": "x", "current": password], csrfFrom: Self.page).0.status == .notFound)
            // Without the form token.
            #expect(try await b.post("\(Self.page)/withdraw", ["reason": "x", "current": password]).0.status == .forbidden)
            #expect(try await unchanged())
            #expect(try await PersonModel.query(on: app.db).filter(\.$name == "Vadim Siruk").count() == 1)

            // An editor sees the page, without the forms, and is refused every form.
            let editor = Browser(app)
            try await NewsroomLogin.account(app, editor, email: "ed@example.org", roles: [.editor, .admin])
            let (seen, text) = try await editor.get(Self.page)
            #expect(seen.status == .ok && text.contains("need the publisher role") && !text.contains(#"name="reason""#))
            #expect(try await editor.get("/newsroom/urgent-actions").0.status == .ok)
            for path in Self.posts {
                let (res, _) = try await editor.post(path, ["reason": "x", "from": "Vadim Siruk", "to": "V. S.", "current": password], csrfFrom: Self.page)
                #expect(res.status == .forbidden, "\(path) as an editor")
            }
            #expect(try await unchanged())

            // A supporter and an anonymous visitor: refused everywhere.
            let supporter = Browser(app)
            try await AccountTests().signUpAndVerify(app, supporter, email: "sam@example.org")
            _ = try await supporter.post("/login", ["email": "sam@example.org", "password": password], csrfFrom: "/login")
            for path in ["/newsroom/urgent-actions", "/newsroom/urgent-actions?number=126%2F19", Self.page] {
                #expect(try await supporter.get(path).0.status == .forbidden, "\(path)")
                #expect(try await send(app, .GET, path).status == .unauthorized, "\(path)")
            }
            for path in Self.posts {
                #expect(try await supporter.post(path, ["reason": "x", "current": password], csrfFrom: "/account").0.status == .forbidden, "\(path)")
                #expect(try await Browser(app).post(path, ["reason": "x", "current": password]).0.status == .unauthorized, "\(path)")
            }
            #expect(try await unchanged())
            #expect(try await AuditEntryModel.query(on: app.db).filter(\.$action ~~ ["urgent_action.withdraw", "urgent_action.redact",
                                                                                   "urgent_action.republish"]).count() == 0)
        }
    }
}
