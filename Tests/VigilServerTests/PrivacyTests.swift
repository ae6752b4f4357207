import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Privacy")
struct PrivacyTests {
    @Test(arguments: TestStorage.available) func exportThenDeleteErasesEverythingButAnonymousCounts(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "erase@example.org")
            _ = try await b.post("/login", ["email": "erase@example.org", "password": AccountTests().password], csrfFrom: "/login")
            _ = try await b.post("/follow", ["case": "demo-li-wei"], csrfFrom: "/follow?case=demo-li-wei")
            var form = try await ReportTests().reportForm(b, "ua-88-26-0-zh")
            form["channel"] = "letter"; form["targets[]"] = "cn-provincial-procurator"
            _ = try await b.post("/report", form)

            let (export, body) = try await b.get("/account/export.json")
            #expect(export.status == .ok && export.headers.first(name: .cacheControl) == "no-store")
            let data = try JSONValue.parse(Data(body.utf8))
            #expect(data["account"]?["email"] == .string("erase@example.org"))
            #expect(data["follows"]?.arrayValue?.count == 1 && data["action_reports"]?.arrayValue?.count == 1)
            #expect(data["sessions"]?.arrayValue?.count == 1 && (data["mail"]?.arrayValue?.count ?? 0) >= 1)

            let (wrong, _) = try await b.post("/account/delete", ["password": "not my password at all"], csrfFrom: "/account/delete")
            #expect(wrong.status == .unauthorized)
            #expect(try await SupporterModel.query(on: app.db).count() == 1)
            let (done, _) = try await b.post("/account/delete", ["password": AccountTests().password], csrfFrom: "/account/delete")
            #expect(done.status == .ok)
            #expect(try await SupporterModel.query(on: app.db).count() == 0)
            #expect(try await SessionModel.query(on: app.db).count() == 0)
            #expect(try await FollowModel.query(on: app.db).count() == 0)
            #expect(try await AuthTokenModel.query(on: app.db).count() == 0)
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "erase@example.org").count() == 0)
            let reports = try await ActionReportModel.query(on: app.db).all()
            #expect(reports.count == 1 && reports[0].supporterID == nil, "the count stays, anonymous")
            #expect(try await ReportTotals.of(documents: ["ua-88-26-0-zh"], on: app.db).total == 1)
            #expect(try await b.get("/account").0.status == .seeOther)
        }
    }

    @Test(arguments: TestStorage.available) func oldReportsBecomeAnonymous(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b)
            let supporter = try #require(try await SupporterModel.query(on: app.db).first())
            for (i, age) in [1, 30].enumerated() {
                let r = ActionReportModel()
                r.documentID = "ua-126-19-0-en"; r.channel = "letter"; r.idempotencyKey = "retention-\(i)"; r.supporterID = supporter.id
                r.createdAt = Calendar(identifier: .gregorian).date(byAdding: .month, value: -age, to: Date())!
                try await r.create(on: app.db)
            }
            #expect(try await PrivacyController.applyRetention(months: 24, on: app.db) == 1)
            let linked = try await ActionReportModel.query(on: app.db).filter(\.$supporterID != nil).all()
            #expect(linked.map(\.idempotencyKey) == ["retention-0"])
            #expect(try await PrivacyController.applyRetention(months: 0, on: app.db) == 0, "0 keeps reports linked")
        }
    }

    @Test(arguments: TestStorage.available) func thePrivacyPageSaysItPlainly(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let page = try await html(app, "/privacy")
            #expect(page.status == .ok && page.body.contains("No tracking") && page.body.contains("24"))
        }
    }
}
