import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The attacker review of issue #11: what a stranger could do to an e-mail-only follower.
@Suite("E-mail followers are safe from strangers")
struct FollowerSafetyTests {
    let loop = ActionLoopTests()

    /// Anyone can sign up with someone else's address and never confirm it; when housekeeping
    /// erases that account a week later, the real owner's e-mail follows and mail must stay.
    @Test(arguments: TestStorage.available) func anUnconfirmedSignUpCannotEraseTheAddressOwnersFollows(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let owner = Browser(app)
            _ = try await loop.followByEmail(owner, "owner@example.org")
            _ = try await owner.confirm(try await loop.confirmLink(app, "owner@example.org"))
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "owner@example.org").first()?.confirmedAt != nil)
            let ownersMail = try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "owner@example.org").count()
            // The stranger signs up with the owner's address and never confirms.
            let stranger = Browser(app)
            _ = try await stranger.post("/signup", ["email": "owner@example.org", "display_name": "Not the owner", "password": AccountTests().password],
                                        csrfFrom: "/signup")
            #expect(try await SupporterModel.query(on: app.db).filter(\.$email == "owner@example.org").count() == 1)
            let result = try await Housekeeping.run(on: app.db, reportRetentionMonths: 24, now: Date().addingTimeInterval(8 * 86_400))
            #expect(result.unverifiedAccounts == 1)
            #expect(try await SupporterModel.query(on: app.db).filter(\.$email == "owner@example.org").count() == 0)
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "owner@example.org").count() == 1, "the owner still follows")
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "owner@example.org").filter(\.$supporterID == nil).count()
                    == ownersMail, "the owner's mail stays; only the account's own went")
        }
    }

    /// An expired request for someone else's address leaves nothing of that address behind: not
    /// the follow, not the confirmation mail that named it.
    @Test(arguments: TestStorage.available) func anExpiredRequestTakesItsConfirmationMailWithIt(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            _ = try await loop.followByEmail(Browser(app), "stranger-asked@example.org")
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "stranger-asked@example.org").count() == 1)
            // Not yet expired: kept.
            try await EmailFollows.pruneUnconfirmed(on: app.db, now: Date().addingTimeInterval(3600))
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "stranger-asked@example.org").count() == 1)
            _ = try await Housekeeping.run(on: app.db, reportRetentionMonths: 24, now: Date().addingTimeInterval(49 * 3600))
            #expect(try await EmailFollowModel.query(on: app.db).filter(\.$email == "stranger-asked@example.org").count() == 0)
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "stranger-asked@example.org").count() == 0)
        }
    }

    /// Sent mail is kept 30 days, then erased by housekeeping; pending mail is never erased.
    @Test func sentMailIsErasedAfterThirtyDays() async throws {
        try await withApp { app in
            try await loadDemo(app)
            let b = Browser(app)
            _ = try await loop.followByEmail(b, "kept@example.org")
            _ = try await b.confirm(try await loop.confirmLink(app, "kept@example.org"))
            let row = try #require(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "kept@example.org").first())
            let soon = try await Housekeeping.run(on: app.db, reportRetentionMonths: 24, now: Date().addingTimeInterval(31 * 86_400))
            #expect(soon.oldMail == 0, "still pending: never erased")
            row.status = "sent"
            try await row.update(on: app.db)
            #expect(try await Housekeeping.run(on: app.db, reportRetentionMonths: 24, now: Date().addingTimeInterval(29 * 86_400)).oldMail == 0)
            #expect(try await Housekeeping.run(on: app.db, reportRetentionMonths: 24, now: Date().addingTimeInterval(31 * 86_400)).oldMail == 1)
        }
    }

    /// A "my data" link stops working after 90 days (every alert carries a fresh one); a forged
    /// or re-dated one never works.
    @Test func myDataLinksExpire() throws {
        let secret = try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": "a-test-secret-of-enough-length-for-hmac"])
        let id = UUID(), now = Date()
        let token = EmailFollows.dataToken(id, secret: secret, now: now)
        #expect(EmailFollows.verifyData(token, secret: secret, now: now) == id)
        #expect(EmailFollows.verifyData(token, secret: secret, now: now.addingTimeInterval(89 * 86_400)) == id)
        #expect(EmailFollows.verifyData(token, secret: secret, now: now.addingTimeInterval(91 * 86_400)) == nil)
        let parts = token.split(separator: ".").map(String.init)
        let redated = [parts[0], String(Int(parts[1])! + 100), parts[2]].joined(separator: ".")
        #expect(EmailFollows.verifyData(redated, secret: secret, now: now.addingTimeInterval(91 * 86_400)) == nil, "the day is signed")
        #expect(EmailFollows.verifyData("\(id.uuidString).AAAA", secret: secret, now: now) == nil, "the old two-part form")
        #expect(EmailFollows.verifyData(token, secret: try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": "another-secret-of-enough-length-for-hmac"]), now: now) == nil)
    }

    /// A visitor who meets a log-in wall and has no account: "Create an account" keeps where
    /// they were going, through the confirmation mail, to the log-in that follows it. A hostile
    /// `next` is dropped on the way.
    @Test(arguments: TestStorage.available) func signingUpKeepsWhereTheSupporterWasGoing(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            let (_, login) = try await b.get("/login?next=%2Ffollow%3Fcase%3Ddemo-li-wei")
            #expect(login.contains("href=\"/en/signup?next=%2Ffollow%3Fcase%3Ddemo-li-wei\""))
            let (_, form) = try await b.get("/signup?next=%2Ffollow%3Fcase%3Ddemo-li-wei")
            #expect(form.contains("name=\"next\" value=\"/follow?case=demo-li-wei\""))
            _ = try await b.post("/signup", ["email": "newcomer@example.org", "display_name": "New", "language": "en",
                                             "password": AccountTests().password, "next": "/follow?case=demo-li-wei"], csrfFrom: "/signup")
            let mail = try #require(try await lastMail(to: "newcomer@example.org", app))
            let verify = try #require(link(in: mail.textBody, path: "/verify?token="))
            #expect(verify.contains("next=%2Ffollow%3Fcase%3Ddemo-li-wei"))
            let (_, done) = try await b.confirm(verify)
            #expect(done.contains("href=\"/en/login?next=%2Ffollow%3Fcase%3Ddemo-li-wei\""), "log in and continue where you were")
            let (res, _) = try await b.post("/login", ["email": "newcomer@example.org", "password": AccountTests().password,
                                                       "next": "/follow?case=demo-li-wei"], csrfFrom: "/login")
            #expect(res.headers.first(name: .location) == "/follow?case=demo-li-wei", "next has no language: the supporter's")
            // A hostile next never reaches the mail or the pages.
            _ = try await Browser(app).post("/signup", ["email": "hostile@example.org", "display_name": "H", "language": "en",
                                                        "password": AccountTests().password, "next": "//evil.example/x"], csrfFrom: "/signup")
            let hostile = try #require(try await lastMail(to: "hostile@example.org", app))
            #expect(!hostile.textBody.contains("evil"))
            #expect(!(try await Browser(app).get("/signup?next=%2F%2Fevil.example").1.contains("evil.example")))
            let (_, bad) = try await Browser(app).get("/verify?token=abc&next=%2F%2Fevil.example")
            #expect(!bad.contains("evil.example"))
        }
    }
}
