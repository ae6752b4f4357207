import Fluent
import Foundation
import NIOCore
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The defects of the security review (issue 9), each reproduced as it was found.
@Suite("Security review")
struct SecurityTests {
    let password = "лето в Коктебеле 1997"

    func account(_ app: Application, _ b: Browser, email: String = "ana@example.org") async throws {
        let (res, html) = try await b.post("/signup", ["email": email, "display_name": "Ana", "password": password], csrfFrom: "/signup")
        #expect(res.status == .ok, "\(html.prefix(300))")
        let mail = try #require(try await lastMail(to: email, app))
        let verify = try #require(link(in: mail.textBody, path: "/verify?token="))
        #expect(try await b.confirm(verify).0.status == .ok)
    }

    // 1. The mail viewer.
    @Test func theMailViewerIsOffUnlessTurnedOnAndThenOnlyForLoopback() async throws {
        try await withApp(.sqlite, configure: { _ in }) { app in
            let res = try await send(app, .GET, "/dev/outbox")
            #expect(res.status == .notFound)
        }
        #expect(throws: VigilConfiguration.Problem.self) {
            try VigilConfiguration.fromEnvironment(["VIGIL_DEV_OUTBOX": "1", "VIGIL_SMTP_URL": "smtp://mail.example.org"])
        }
        #expect(try VigilConfiguration.fromEnvironment(["VIGIL_DEV_OUTBOX": "1"]).devOutbox)
        #expect(try VigilConfiguration.fromEnvironment([:]).devOutbox == false)
        try await withApp(.sqlite, configure: { $0.devOutbox = true }) { app in
            try await Outbox.enqueue(to: "a@example.org", subject: "<b>Hello</b>", text: "Body & more", html: nil, from: "v@example.org", on: app.db)
            // The in-memory tester has no peer address: not loopback, so nothing is shown.
            #expect(try await send(app, .GET, "/dev/outbox").status == .notFound)
            try await app.testing(method: .running(hostname: "127.0.0.1", port: 0)).test(.GET, "/dev/outbox") { res async in
                #expect(res.status == .ok && String(buffer: res.body).contains("&lt;b&gt;Hello&lt;/b&gt;"))
            }
            try await app.testing(method: .running(hostname: "127.0.0.1", port: 0)).test(.GET, "/dev/outbox", headers: ["X-Forwarded-For": "203.0.113.9"]) { res async in
                #expect(res.status == .notFound, "a request that came through a proxy is not local")
            }
        }
    }

    // 2. The cache.
    @Test(arguments: TestStorage.available) func writesThatAreNotContentLeaveRenderedDocumentsAlone(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let cache = app.vigilServices.cache
            #expect(try await send(app, .GET, "/urgent-actions/126-19/initial.pdf").status == .ok)
            let builds = cache.buildCount
            // A refused log-in, a report and a session: none of them is content.
            let b = Browser(app)
            _ = try await b.post("/login", ["email": "nobody@example.org", "password": "wrong password here"], csrfFrom: "/login")
            _ = try await b.post("/report", ["document": "ua-126-19-0-en", "channel": "letter", "key": "cache-test-key-1", "targets[]": "ru-prosecutor-general"],
                                 csrfFrom: "/report?document=ua-126-19-0-en")
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await send(app, .GET, "/urgent-actions/126-19/initial.pdf").status == .ok)
            #expect(cache.buildCount == builds, "the PDF was not rendered again")
            // The document page shows counts: it renders again, with the new total.
            let page = try await send(app, .GET, "/urgent-actions/126-19/initial")
            #expect(String(buffer: page.body).contains("1 action"))
        }
    }

    @Test func manyRequestsForAMissingEntryRenderItOnce() async throws {
        try await withApp { app in
            try await loadDemo(app)
            let cache = app.vigilServices.cache
            let before = cache.buildCount
            try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for _ in 0..<8 { group.addTask { try await send(app, .GET, "/urgent-actions/126-19/outcome.pdf").status } }
                for try await status in group { #expect(status == .ok) }
            }
            // Once each: what downloads read of the action and of its officials (`DocumentData.cached`), and the PDF.
            #expect(cache.buildCount == before + 3)
        }
    }

    @Test func theCacheIsBoundedInBytes() async throws {
        try await withApp(.sqlite, configure: { $0.cacheBytes = 40_000 }) { app in
            try await loadDemo(app)
            let cache = app.vigilServices.cache
            for path in ["/", "/urgent-actions", "/urgent-actions/126-19/initial", "/urgent-actions/126-19/outcome", "/outcomes",
                         "/cases/crimean-tatar-defenders-kuku", "/feed.atom", "/sitemap.xml"] {
                _ = try await send(app, .GET, path)
                #expect(cache.storedBytes <= 40_000)
            }
        }
    }

    /// A crawler asking random searches and API cursors fills the cache's shelf for queries and
    /// evicts other such answers, never the pages everyone reads.
    @Test func randomSearchesEvictSearchesNotPages() async throws {
        try await withApp(.sqlite, configure: { $0.cacheBytes = 1_600_000 }) { app in
            try await loadDemo(app)
            let cache = app.vigilServices.cache
            // (The list also keeps its filter choices, which searches share, among the pages.)
            let pages = ["/en/", "/en/urgent-actions", "/en/urgent-actions/126-19/initial", "/en/cases/crimean-tatar-defenders-kuku", "/feed.atom"]
            for p in pages { #expect(try await send(app, .GET, p).status == .ok) }
            let pageBytes = cache.storedBytes(.pages)
            #expect(pageBytes > 0 && cache.storedBytes(.queries) == 0)
            var stored = 0
            // Combinations of filters the site offers, which a crawler walks.
            let facets = try await SiteData(db: app.db).facets()
            var combinations: [String] = []
            for language in facets.languages {
                for country in facets.countries {
                    for status in ActionStanding.allCases {
                        for kind in DocumentKind.allCases {
                            combinations.append("/en/urgent-actions?country=\(country)&status=\(status.rawValue)&kind=\(kind.rawValue)&language=\(language)")
                        }
                    }
                }
            }
            try #require(combinations.count >= 150)
            // And a document's page for each reader's country (the embassy among its copies).
            let countries = CountryCode.all.sorted()
            for i in 0..<150 {
                // A search; an API list since a moment none asked before; a filter by a value
                // none of the site's choices offers, typed in; a combination; a document's page
                // for a reader's country; and the feed of a theme none has.
                for path in ["/en/urgent-actions?q=zq\(i)", "/api/v1/urgent-actions?limit=3&updated_since=2000-01-01T00:00:00.\(i + 100)Z",
                             "/en/urgent-actions?region=zq\(i)", combinations[i],
                             "/en/urgent-actions/126-19/initial?country=\(countries[i])", "/themes/zq\(i)/feed.atom"] {
                    let answer = try await send(app, .GET, path)
                    #expect(answer.status == .ok, "\(path)")
                    stored += answer.body.readableBytes
                }
                #expect(cache.storedBytes(.queries) <= cache.budget(.queries))
            }
            // An empty list has one page, not ten thousand to keep.
            #expect(try await send(app, .GET, "/en/urgent-actions?region=zq1&page=2").status == .notFound)
            // Far more than the shelf holds was asked, and the shelf was used.
            #expect(stored > 2 * cache.budget(.queries) && cache.storedBytes(.queries) > cache.budget(.queries) / 2)
            #expect(try await send(app, .GET, "/en/urgent-actions?q=zq149").headers.first(name: "X-Cache") == "HIT")
            for p in pages { #expect(try await send(app, .GET, p).headers.first(name: "X-Cache") == "HIT", "\(p)") }
            #expect(cache.storedBytes(.pages) == pageBytes)
            // A pack of a filtered list is kept with the queries too.
            let pack = try await send(app, .GET, "/pack.pdf?status=open")
            #expect(pack.status == .ok, "\(pack.status) \(String(buffer: pack.body).prefix(300))")
            #expect(cache.storedBytes(.pages) == pageBytes)
            // A list by a country the site offers is a page like the others.
            #expect(try await send(app, .GET, "/en/urgent-actions?country=RU").status == .ok)
            #expect(cache.storedBytes(.pages) > pageBytes)
        }
    }

    @Test func packsAreKeyedByWhatTheyHoldAndCapped() async throws {
        try await withApp { app in
            try await loadDemo(app)
            let cache = app.vigilServices.cache
            let first = try await send(app, .GET, "/pack.pdf?q=rights")
            #expect(first.status == .ok)
            let builds = cache.buildCount
            #expect(try await send(app, .GET, "/pack.pdf?q=rights!").status == .ok)
            #expect(try await send(app, .GET, "/pack.pdf?q=rights!!").status == .ok)
            #expect(cache.buildCount == builds, "the same actions: the same render")
        }
        try await withApp(.sqlite, configure: { $0.maxPackActions = 1 }) { app in
            try await loadDemo(app)
            let res = try await send(app, .GET, "/pack.pdf")
            #expect(res.status == .unprocessableEntity && String(buffer: res.body).contains("a pack holds at most 1"))
        }
    }

    // 17. The pack holds what the list shows.
    @Test(arguments: TestStorage.available) func thePackHoldsTheOpenActionsTheListShows(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let list = String(buffer: try await send(app, .GET, "/urgent-actions?q=rights&status=open").body)
            let pack = try await send(app, .GET, "/pack.pdf?q=rights")
            #expect(pack.status == .ok, "\(String(buffer: pack.body).prefix(200))")
            #expect(list.contains("UA "))
        }
    }

    // 3. Rate-limit rows.
    @Test(arguments: TestStorage.available) func hugeAddressesWriteNothingAndKeysAreHashed(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            let huge = String(repeating: "a", count: 40_000) + "@example.org"
            for _ in 0..<3 {
                let (res, _) = try await b.post("/login", ["email": huge, "password": "anything at all"], csrfFrom: "/login")
                #expect(res.status == .unauthorized)
            }
            #expect(try await countRows(app, "rate_limits") == 0, "nothing counted for an address no account can have")
            // (The 64 KB limit on form bodies is checked against a real server in tests/test_security.py.)
            let megabyte = String(repeating: "a", count: 1_000_000)
            _ = try await b.post("/login", ["email": megabyte, "password": "x"], csrfFrom: "/login")
            #expect(try await countRows(app, "rate_limits") == 0)
            _ = try await b.post("/login", ["email": "someone@example.org", "password": "wrong password here"], csrfFrom: "/login")
            let sql = app.db as! any SQLDatabase
            let keys = try await sql.raw("SELECT key FROM rate_limits").all().map { try $0.decode(column: "key", as: String.self) }
            #expect(!keys.isEmpty && keys.allSatisfy { $0.count == 32 && !$0.contains("@") && !$0.contains("127.0.0.1") })
        }
    }

    @Test(arguments: TestStorage.available) func spentHitsArePrunedAsSoonAsTheirWindowEnds(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let secret = app.vigilServices.secret
            let now = Date()
            try await RateLimit.record([RateLimit.Rule("report:ip:192.0.2.1", limit: 120, window: 60, secret: secret),
                                        RateLimit.Rule("login:ip-h:192.0.2.1", limit: 300, window: 3600, secret: secret)], on: app.db, now: now)
            try await RateLimit.prune(on: app.db, now: now.addingTimeInterval(61))
            #expect(try await countRows(app, "rate_limits") == 1, "the minute's hit is gone, the hour's stays")
            try await RateLimit.prune(on: app.db, now: now.addingTimeInterval(3601))
            #expect(try await countRows(app, "rate_limits") == 0)
        }
    }

    @Test func aRefusedRequestWritesNothing() async throws {
        try await withApp { app in
            let b = Browser(app)
            // The hour's limit for this address from this client, already reached (through the
            // form, five log-ins on a loaded machine may take longer than the minute's window).
            let rule = AccountController.loginRuleKeys(email: "x@example.org", ip: "unknown")[1]
            #expect(rule.window == 3600)
            for _ in 0..<rule.limit {
                try await RateLimit.record([RateLimit.Rule(rule.key, limit: rule.limit, window: rule.window, secret: app.vigilServices.secret)], on: app.db)
            }
            let before = try await countRows(app, "rate_limits")
            let (res, _) = try await b.post("/login", ["email": "x@example.org", "password": "wrong password here"], csrfFrom: "/login")
            #expect(res.status == .tooManyRequests && res.headers.first(name: "Retry-After") != nil)
            #expect(try await countRows(app, "rate_limits") == before)
        }
    }

    // 4. Lock-out.
    @Test(arguments: TestStorage.available) func anAttackerCannotLockTheOwnerOut(storage: TestStorage) async throws {
        // The in-memory tester has no peer address ("unknown"); trusting it as a proxy lets each
        // browser say where it is with X-Forwarded-For.
        try await withApp(storage, configure: { $0.trustedProxies = ["unknown"] }) { app in
            let owner = Browser(app)
            try await account(app, owner)
            let attacker = Browser(app)
            // Four of the attacker's five wrong passwords a minute are already counted (six real
            // log-ins, each hashing a password, can outlast the minute on a loaded debug build).
            let rule = AccountController.loginRuleKeys(email: "ana@example.org", ip: "203.0.113.7")[0]
            #expect(rule.limit == 5 && rule.window == 60)
            for _ in 0..<4 {
                try await RateLimit.record([RateLimit.Rule(rule.key, limit: rule.limit, window: rule.window, secret: app.vigilServices.secret)], on: app.db)
            }
            var statuses: [HTTPStatus] = []
            for _ in 0..<2 {
                statuses.append(try await attacker.post("/login", ["email": "ana@example.org", "password": "wrong password here"], csrfFrom: "/login",
                                                        headers: ["X-Forwarded-For": "203.0.113.7"]).0.status)
            }
            #expect(statuses == [.unauthorized, .tooManyRequests])
            // The owner, from another address, logs in at once.
            let (ok, _) = try await owner.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login",
                                               headers: ["X-Forwarded-For": "198.51.100.4"])
            #expect(ok.status == .seeOther)
            // Three reset requests use up the limit for the address: the fourth gets the usual page and sends nothing.
            for _ in 0..<3 {
                _ = try await attacker.post("/password-reset", ["email": "ana@example.org"], csrfFrom: "/password-reset", headers: ["X-Forwarded-For": "203.0.113.7"])
            }
            let mails = try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "ana@example.org").count()
            let (fourth, _) = try await attacker.post("/password-reset", ["email": "ana@example.org"], csrfFrom: "/password-reset",
                                                      headers: ["X-Forwarded-For": "203.0.113.7"])
            #expect(fourth.status == .ok)
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$toAddress == "ana@example.org").count() == mails)
        }
    }

    @Test func limitsArePerAccountAndAddressAndTheCeilingMailsALink() async throws {
        try await withApp { app in
            let owner = Browser(app)
            try await account(app, owner)
            let rules = { (ip: String) in
                AccountController.loginRuleKeys(email: "ana@example.org", ip: ip)
            }
            // Fill the attacker's per-account-and-address limit: the owner's address is untouched.
            let secret = app.vigilServices.secret
            let attackerRules = rules("203.0.113.7").map { RateLimit.Rule($0.key, limit: $0.limit, window: $0.window, secret: secret) }
            for _ in 0..<5 { _ = try await RateLimit.hit([attackerRules[0]], on: app.db) }
            #expect(try await RateLimit.check([attackerRules[0]], on: app.db) != nil)
            let ownerRules = rules("unknown").map { RateLimit.Rule($0.key, limit: $0.limit, window: $0.window, secret: secret) }
            #expect(try await RateLimit.check(Array(ownerRules.prefix(4)), on: app.db) == nil)
            // Past the ceiling for the account (many addresses), passwords are not checked and a link is mailed.
            for _ in 0..<60 { try await RateLimit.record([ownerRules[4]], on: app.db) }
            let (res, html) = try await owner.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(res.status == .tooManyRequests && html.contains("link"))
            let mail = try #require(try await lastMail(to: "ana@example.org", app))
            let url = try #require(link(in: mail.textBody, path: "/login/link?token="))
            let (page, _) = try await owner.get(url)
            #expect(page.status == .ok, "a page with a button: a mail scanner following the link logs no one in")
            #expect(try await SessionModel.query(on: app.db).count() == 0)
            let (done, _) = try await owner.confirm(url)
            #expect(done.status == .seeOther && done.headers.first(name: .location) == "/en/account")
            #expect(try await owner.confirm(url).0.status == .badRequest, "single use")
            // An unknown address gets the same page and no mail.
            let other = Browser(app)
            let unknownRules = AccountController.loginRuleKeys(email: "nobody@example.org", ip: "unknown")
            for _ in 0..<60 { try await RateLimit.record([RateLimit.Rule(unknownRules[4].key, limit: 60, window: 3600, secret: secret)], on: app.db) }
            let (unknown, _) = try await other.post("/login", ["email": "nobody@example.org", "password": password], csrfFrom: "/login")
            #expect(unknown.status == .tooManyRequests)
            #expect(try await lastMail(to: "nobody@example.org", app) == nil)
        }
    }

    // 5. Every password check is limited.
    @Test func deletingTheAccountChecksThePasswordWithALimit() async throws {
        try await withApp { app in
            let b = Browser(app)
            try await account(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            // Nineteen of the hour's twenty checks already spent (through the form, seven checks on a
            // loaded machine may outlast the minute's window of five).
            let id = try #require(try await SupporterModel.query(on: app.db).first()?.id)
            for _ in 0..<19 {
                try await RateLimit.record([RateLimit.Rule("reauth-h:\(id)", limit: 20, window: 3600, secret: app.vigilServices.secret)], on: app.db)
            }
            var statuses: [HTTPStatus] = []
            for _ in 0..<2 { statuses.append(try await b.post("/account/delete", ["password": "not my password at all"], csrfFrom: "/account/delete").0.status) }
            #expect(statuses == [.unauthorized, .tooManyRequests])
            #expect(try await SupporterModel.query(on: app.db).count() == 1)
        }
    }

    // 6. Pending tokens die with the password.
    @Test(arguments: TestStorage.available) func aResetVoidsAPendingEmailChange(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let owner = Browser(app), thief = Browser(app)
            try await account(app, owner)
            _ = try await thief.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            #expect(try await thief.post("/account/email", ["current": password, "email": "thief@example.org"], csrfFrom: "/account").0.status == .ok)
            let change = try #require(link(in: try await mailText(to: "thief@example.org", app), path: "/account/email/confirm?token="))
            // The owner resets the password.
            _ = try await owner.post("/password-reset", ["email": "ana@example.org"], csrfFrom: "/password-reset")
            let reset = try #require(link(in: try await mailText(to: "ana@example.org", app), path: "/password-reset?token="))
            let token = String(reset.split(separator: "=", maxSplits: 1)[1].prefix { $0 != "&" })  // the link also names its language (&lang=)
            #expect(try await owner.post("/password-reset/new", ["token": token, "password": "a brand new passphrase"], csrfFrom: reset).0.status == .ok)
            #expect(try await thief.confirm(change).0.status == .badRequest)
            #expect(try await SupporterModel.query(on: app.db).first()?.email == "ana@example.org")
        }
    }

    @Test func confirmingANewAddressEndsOtherSessionsAndTellsTheOldOne() async throws {
        try await withApp { app in
            let b = Browser(app), other = Browser(app)
            try await account(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            _ = try await other.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            _ = try await b.post("/account/email", ["current": password, "email": "ana.new@example.org"], csrfFrom: "/account")
            let confirm = try #require(link(in: try await mailText(to: "ana.new@example.org", app), path: "/account/email/confirm?token="))
            #expect(try await b.get(confirm).0.status == .ok)
            #expect(try await SupporterModel.query(on: app.db).first()?.email == "ana@example.org", "showing the page changes nothing")
            #expect(try await b.confirm(confirm).0.status == .ok)
            #expect(try await SupporterModel.query(on: app.db).first()?.email == "ana.new@example.org")
            #expect(try await b.get("/account").0.status == .ok)
            #expect(try await other.get("/account").0.status == .seeOther)
            #expect(try await lastMail(to: "ana@example.org", app)?.subject == "Your account has a new e-mail address")
        }
    }

    // 7. Erasure and housekeeping.
    @Test(arguments: TestStorage.available) func erasureRemovesMailToEveryAddressAndRevokesTokens(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            try await account(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            _ = try await b.post("/account/email", ["current": password, "email": "ana.new@example.org"], csrfFrom: "/account")
            let confirm = try #require(link(in: try await mailText(to: "ana.new@example.org", app), path: "/account/email/confirm?token="))
            _ = try await b.confirm(confirm)
            _ = try await NewsroomAccounts.setRoles(email: "ana.new@example.org", roles: [.publisher], by: .commandLine, log: nil, on: app.db)
            let me = try #require(try await SupporterModel.query(on: app.db).first())
            let (token, _) = try await APIToken.create(role: "publisher", label: "t", createdBy: me.id, on: app.db)
            _ = try await b.post("/login", ["email": "ana.new@example.org", "password": password], csrfFrom: "/login")
            #expect(try await b.post("/account/delete", ["password": password], csrfFrom: "/account/delete").0.status == .ok)
            #expect(try await OutboxMessageModel.query(on: app.db).count() == 0, "mail to the old and the new address is gone")
            let write = try await send(app, .POST, "/api/v1/targets", headers: ["Authorization": "Bearer \(token)"],
                                       json: #"{"id":"x-target","title":"X","address":[],"salutation":{},"languages":[]}"#)
            #expect(write.status == .unauthorized, "a token does not outlive its editor")
            #expect(app.securityLog.events.contains { $0.name == "account.erased" })
        }
    }

    @Test func erasedAddressesLeaveNoByteInTheSQLiteFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-erase-\(UUID().uuidString).sqlite").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        try await withApp(.sqlite, sqlitePath: path) { app in
            let b = Browser(app)
            try await account(app, b, email: "unmistakable.address@example.org")
            _ = try await b.post("/login", ["email": "unmistakable.address@example.org", "password": password], csrfFrom: "/login")
            _ = try await b.post("/password-reset", ["email": "unmistakable.address@example.org"], csrfFrom: "/password-reset")
            #expect(try await b.post("/account/delete", ["password": password], csrfFrom: "/account/delete").0.status == .ok)
            let sql = app.db as! any SQLDatabase
            _ = try await sql.raw("PRAGMA wal_checkpoint(TRUNCATE)").all()
            var files = Data()
            for suffix in ["", "-wal"] { files += (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data() }
            #expect(files.count > 0)
            #expect(files.range(of: Data("unmistakable.address".utf8)) == nil)
        }
    }

    @Test(arguments: TestStorage.available) func housekeepingPrunes(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let b = Browser(app)
            _ = try await b.post("/signup", ["email": "never@example.org", "display_name": "N", "password": password], csrfFrom: "/signup")
            try await account(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            let later = Date().addingTimeInterval(8 * 86_400)
            let result = try await Housekeeping.run(on: app.db, reportRetentionMonths: 24, now: later)
            #expect(result.unverifiedAccounts == 1 && result.sessions == 1 && result.tokens >= 1)
            #expect(try await SupporterModel.query(on: app.db).all().map(\.email) == ["ana@example.org"])
            #expect(try await lastMail(to: "never@example.org", app) == nil)
        }
    }

    @Test func deliveredMailKeepsNoContent() async throws {
        try await withApp { app in
            try await Outbox.enqueue(to: "a@example.org", subject: "S", text: "a reset link", html: "<p>x</p>", from: "v@example.org", on: app.db)
            let worker = OutboxWorker(db: app.db, sender: { _ in }, from: "v@example.org")
            #expect(try await worker.runOnce() == 1)
            let row = try #require(try await OutboxMessageModel.query(on: app.db).first())
            #expect(row.status == "sent" && row.textBody.isEmpty && row.htmlBody == nil)
        }
    }

    // 8. Names.
    @Test func namesWithControlOrDirectionCharactersAreRefusedAndPlaceholdersAreFilledOnce() async throws {
        for bad in ["Ana\nBcc: x", "Ana\u{202E}gro.elpmaxe", "A\u{2066}B", "A\u{0007}"] {
            #expect(DisplayName.problem(bad) != nil, "\(bad.debugDescription)")
        }
        #expect(DisplayName.problem("فرزانه\u{200C}ی") == nil, "ZWNJ stays")
        #expect(Placeholders.fill("Hello {name}, open {url}", ["name": "{url}", "url": "https://x/verify"]) == "Hello {url}, open https://x/verify")
        #expect(Placeholders.fill("{a}{b} {c} { d", ["a": "1", "b": "{a}"]) == "1{a} {c} { d")
        try await withApp { app in
            let b = Browser(app)
            let (res, _) = try await b.post("/signup", ["email": "n@example.org", "display_name": "Ana\u{202E}", "password": password], csrfFrom: "/signup")
            #expect(res.status == .unprocessableEntity)
            #expect(try await OutboxMessageModel.query(on: app.db).count() == 0)
            _ = try await b.post("/signup", ["email": "m@example.org", "display_name": "{url}", "password": password], csrfFrom: "/signup")
            let mail = try #require(try await lastMail(to: "m@example.org", app))
            #expect(mail.textBody.contains("Hello {url}"))
        }
    }

    // 10. Tokens.
    @Test(arguments: TestStorage.available) func tokensExpireHaveScopesAndTheirWritesAreLogged(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let target = #"{"id":"x-target","title":"X","address":[],"salutation":{},"languages":[]}"#
            let (read, _) = try await APIToken.create(role: "publisher", scope: "read", label: "r", on: app.db)
            #expect(try await send(app, .POST, "/api/v1/targets", headers: ["Authorization": "Bearer \(read)"], json: target).status == .forbidden)
            let (write, _) = try await APIToken.create(role: "publisher", scope: "write", label: "w", on: app.db)
            #expect(try await send(app, .POST, "/api/v1/targets", headers: ["Authorization": "Bearer \(write)"], json: target).status == .created)
            let bundle = String(decoding: try DemoData.bundleData(), as: UTF8.self)
            #expect(try await send(app, .POST, "/api/v1/bundles", headers: ["Authorization": "Bearer \(write)"], json: bundle).status == .forbidden)
            let (old, _) = try await APIToken.create(role: "publisher", days: 1, label: "o", on: app.db, now: Date().addingTimeInterval(-2 * 86_400))
            let expired = try await send(app, .PUT, "/api/v1/targets/x-target", headers: ["Authorization": "Bearer \(old)"], json: target)
            #expect(expired.status == .unauthorized && expired.json["reason"]?.stringValue?.contains("expired") == true)
            let events = app.securityLog.events.map(\.name)
            #expect(events.contains("token.write") && events.contains("token.refused"))
            // No secret in any event.
            #expect(!app.securityLog.events.contains { e in e.detail.values.contains { $0.contains(write) || $0.contains(old) } })
        }
    }

    // 12. Cookies and HSTS from an https origin; Clear-Site-Data on log-out.
    @Test func anHttpsOriginMeansSecureCookiesAndHSTS() async throws {
        let c = try VigilConfiguration.fromEnvironment(["VIGIL_BASE_URL": "https://ua.example.org"])
        #expect(c.tls)
        try await withApp(.sqlite, configure: { $0.baseURL = "https://ua.example.org"; $0.tls = true }) { app in
            let res = try await send(app, .GET, "/login")
            #expect(res.headers.first(name: "Strict-Transport-Security") != nil)
            #expect(res.headers[.setCookie].contains { $0.hasPrefix("__Host-vigil-csrf=") && $0.contains("Secure") })
        }
        try await withApp { app in
            let b = Browser(app)
            try await account(app, b)
            _ = try await b.post("/login", ["email": "ana@example.org", "password": password], csrfFrom: "/login")
            let (out, _) = try await b.post("/logout", [:], csrfFrom: "/account")
            #expect(out.headers.first(name: "Clear-Site-Data") == "\"cookies\"")
        }
    }

    // 13. Client addresses.
    @Test func clientAddressesAndIPv6Networks() throws {
        #expect(ClientAddress.rateKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64")
        #expect(ClientAddress.rateKey("2001:db8:1:2::1") == ClientAddress.rateKey("2001:0db8:0001:0002:ffff::9"))
        #expect(ClientAddress.rateKey("192.0.2.7") == "192.0.2.7")
        #expect(ClientAddress.normalise("::ffff:192.0.2.7") == "192.0.2.7")
        #expect(ClientAddress.normalise("[2001:DB8::1]") == "2001:db8::1")
    }

    @Test func everyForwardedForLineCounts() async throws {
        try await withApp(.sqlite, configure: { $0.trustedProxies = ["127.0.0.1"] }) { app in
            app.get("whoami") { req in clientIP(req, trustedProxies: ["127.0.0.1"]) }
            try await app.testing(method: .running(hostname: "127.0.0.1", port: 0)).test(.GET, "whoami", beforeRequest: { req in
                // The client wrote the first line; the proxy appended the real address on a line of its own.
                req.headers.add(name: "X-Forwarded-For", value: "198.51.100.1")
                req.headers.add(name: "X-Forwarded-For", value: "203.0.113.50")
            }, afterResponse: { res async in
                #expect(String(buffer: res.body) == "203.0.113.50")
            })
        }
    }

    // 14. Secrets.
    @Test func theSecretFileIsOwnerOnlyAndNeverReplaced() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let old = umask(0)
        defer { umask(old) }
        let first = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path])
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let again = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path])
        #expect(first.keyBytes == again.keyBytes)
    }

    @Test func theMailProgramGetsAMinimalEnvironment() {
        let env = SendmailTransport.minimalEnvironment(["VIGIL_SECRET_KEY": "s", "DATABASE_URL": "postgres://u:p@h/d", "HOME": "/root", "PATH": "/x"])
        #expect(env.contains("HOME=/root") && !env.joined().contains("VIGIL_SECRET_KEY") && !env.joined().contains("postgres://"))
        let asked = SendmailTransport.minimalEnvironment(["VIGIL_SECRET_KEY": "s", "RELAY": "r"], passing: ["RELAY", "VIGIL_SECRET_KEY"])
        #expect(asked.contains("RELAY=r") && !asked.joined().contains("VIGIL_SECRET_KEY"))
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_SENDMAIL_ENV": "HOME,DATABASE_URL"]) }
    }

    // 15. Password list.
    @Test func theCommonPasswordListIsLargeAndCatchesVariants() throws {
        #expect(Passwords.bundledCommonList().count >= 10_000)
        let p = Passwords(secret: ServerSecret(keyBytes: Data(count: 32)), cost: 4)
        #expect(p.problem("iloveyou2024!!") != nil)
        #expect(p.problem("qwertyqwertyqwerty") != nil)
        #expect(p.problem("lighthouse keeper of Odesa") == nil)
    }

    // 16. Pre-hijacking.
    @Test func verificationNeedsAButtonAndAResetEndsTheSquattersSession() async throws {
        try await withApp { app in
            let b = Browser(app)
            _ = try await b.post("/signup", ["email": "victim@example.org", "display_name": "Squatter", "password": password], csrfFrom: "/signup")
            let verify = try #require(link(in: try await mailText(to: "victim@example.org", app), path: "/verify?token="))
            // A mail scanner follows the link: nothing happens.
            #expect(try await Browser(app).get(verify).0.status == .ok)
            #expect(try await SupporterModel.query(on: app.db).first()?.emailVerifiedAt == nil)
            // A squatter's session (say, made before verification was required) ends when the owner resets.
            let squatter = try #require(try await SupporterModel.query(on: app.db).first())
            _ = try await app.db.writeTransaction { db in
                try await Auth(secret: app.vigilServices.secret, tls: false).startSession(for: squatter.id!, remember: true, device: "x", on: db)
            }
            let owner = Browser(app)
            _ = try await owner.post("/password-reset", ["email": "victim@example.org"], csrfFrom: "/password-reset")
            let reset = try #require(link(in: try await mailText(to: "victim@example.org", app), path: "/password-reset?token="))
            let token = String(reset.split(separator: "=", maxSplits: 1)[1].prefix { $0 != "&" })  // the link also names its language (&lang=)
            _ = try await owner.post("/password-reset/new", ["token": token, "password": "the owner's own passphrase"], csrfFrom: reset)
            #expect(try await SessionModel.query(on: app.db).count() == 0)
        }
    }

    // 11. Letters.
    @Test func lettersAreMadeByPostOnly() async throws {
        try await withApp { app in
            try await loadDemoWith126Open(app)
            let get = try await send(app, .GET, "/urgent-actions/126-19/initial/letter.pdf?name=Ana&town=Kyiv")
            #expect(get.status == .methodNotAllowed)
            let page = String(buffer: try await send(app, .GET, "/urgent-actions/126-19/initial").body)
            #expect(page.contains("class=\"letter-form\" method=\"post\""))
            let b = Browser(app)
            let (res, _) = try await b.post("/urgent-actions/126-19/initial/letter", ["name": "Ana", "town": "Kyiv", "format": "pdf",
                                                                                       "target": "ru-prosecutor-general"])
            #expect(res.status == .ok && res.headers.first(name: .contentType) == "application/pdf")
            #expect(res.headers.first(name: .cacheControl) == "no-store")
        }
    }

    @Test func lettersAreLimitedPerClient() async throws {
        try await withApp { app in
            try await loadDemoWith126Open(app)
            let b = Browser(app)
            // 199 of the hour's 200 letters already made from this client (21 renders through the
            // form may outlast the minute's window of 20 on a loaded machine).
            for _ in 0..<199 {
                try await RateLimit.record([RateLimit.Rule("letter:ip-h:unknown", limit: 200, window: 3600, secret: app.vigilServices.secret)], on: app.db)
            }
            var statuses: [HTTPStatus] = []
            for _ in 0..<2 {
                statuses.append(try await b.post("/urgent-actions/126-19/initial/letter", ["format": "docx", "target": "ru-prosecutor-general"]).0.status)
            }
            #expect(statuses == [.ok, .tooManyRequests])
            // Counted by the SQLite writer (`Request.hitRateLimit`), against the hits written through the pool.
            #expect((app.reportBatcher.writer?.counts.statements ?? 0) >= 8, "two hits, each BEGIN, read, (insert,) COMMIT")
        }
    }

    @Test func anonymousReportsKeepOnlyTheirHour() async throws {
        try await withApp { app in
            try await loadDemo(app)
            let b = Browser(app)
            _ = try await b.post("/report", ["document": "ua-126-19-0-en", "channel": "letter", "key": "hour-test-key-1", "targets[]": "ru-prosecutor-general"],
                                 csrfFrom: "/report?document=ua-126-19-0-en")
            let report = try #require(try await ActionReportModel.query(on: app.db).first())
            #expect(report.supporterID == nil)
            #expect(report.createdAt.timeIntervalSince1970.truncatingRemainder(dividingBy: 3600) == 0)
        }
    }

    // 18. PostgreSQL's SUM.
    @Test(arguments: TestStorage.available) func pagesAndTotalsAnswerAfterAReport(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let b = Browser(app)
            let (r, _) = try await b.post("/report", ["document": "ua-126-19-0-en", "channel": "letter", "key": "sum-test-key-1", "targets[]": "ru-prosecutor-general"],
                                          csrfFrom: "/report?document=ua-126-19-0-en")
            #expect(r.status == .seeOther)
            for path in ["/", "/urgent-actions/126-19/initial", "/api/v1/urgent-actions/126-19/totals", "/api/v1/totals", "/report?document=ua-126-19-0-en"] {
                let res = try await send(app, .GET, path)
                #expect(res.status == .ok, "\(path)")
            }
            #expect(try await send(app, .GET, "/api/v1/urgent-actions/126-19/totals").json["total"] == .number(1))
            let stamp = try await SiteData(db: app.db).countsStamp()
            #expect(stamp.hasPrefix("r1:"))
        }
    }
}

func countRows(_ app: Application, _ table: String) async throws -> Int {
    let sql = app.db as! any SQLDatabase
    return try await sql.raw("SELECT COUNT(*) AS n FROM \(ident: table)").first()?.decode(column: "n", as: Int.self) ?? 0
}

func mailText(to address: String, _ app: Application) async throws -> String {
    try #require(try await lastMail(to: address, app)).textBody
}
