import Foundation
import Testing
import VaporTesting
@testable import VigilServer

/// What blackbox/test_hostile_input.py found answered 500 (issue 14, item 9).
@Suite("Hostile input")
struct HostileInputTests {
    @Test func onlyAddressesThatCanNameAPublicFileReachTheFileMiddleware() {
        let names: Set<String> = ["css"]
        #expect(PublicFilesMiddleware.mayName("/css/site.css", publicNames: names))
        #expect(PublicFilesMiddleware.mayName("/css", publicNames: names))
        // A segment longer than a file name can be (stat: ENAMETOOLONG), one under a file (ENOTDIR).
        #expect(!PublicFilesMiddleware.mayName("/" + String(repeating: "[", count: 300), publicNames: names))
        #expect(!PublicFilesMiddleware.mayName("/css/" + String(repeating: "a", count: 256), publicNames: names))
        #expect(!PublicFilesMiddleware.mayName("/css/site.css/..", publicNames: names))
        #expect(!PublicFilesMiddleware.mayName("/css/site.css\u{0}.html", publicNames: names))
        #expect(!PublicFilesMiddleware.mayName("/css/", publicNames: names))
        #expect(!PublicFilesMiddleware.mayName("/css/" + String(repeating: "a/", count: 600), publicNames: names))
        // Everything else goes to the routes.
        #expect(!PublicFilesMiddleware.mayName("/en/urgent-actions", publicNames: names))
        #expect(!PublicFilesMiddleware.mayName("/", publicNames: names))
    }

    @Test func anAuditSubjectWithAControlCharacterIsAProblemNotAQuery() {
        #expect(Audit.Filter(subject: "case:demo-li-wei").problems.isEmpty)
        #expect(Audit.Filter(subject: "demo-li-wei \u{0}\u{0}").problems == ["subject"])
        #expect(Audit.Filter(subject: "a\u{1b}[31m").problems == ["subject"])
    }

    /// The full run on PostgreSQL: `?q=Li%20Wei&region=a%00b` answered 500 (PostgreSQL refuses a
    /// NUL in text). A control character is refused in a filter, a space in a search.
    @Test(arguments: TestStorage.available)
    func aControlCharacterInAListFilterIsRefusedNotQueried(storage: TestStorage) async throws {
        #expect(throws: Refusal.self) { try CatalogueQuery("region=a%00b", allowed: CatalogueQuery.siteKeys) }
        #expect(throws: Refusal.self) { try CatalogueQuery("theme=x%0D%0Ay", allowed: CatalogueQuery.siteKeys) }
        #expect(try CatalogueQuery("q=Li%00Wei%1B", allowed: CatalogueQuery.siteKeys).q == "Li Wei")
        try await withApp(storage) { app in
            try await loadDemo(app)
            for path in ["/en/urgent-actions?q=Li%20Wei&region=a%00b", "/en/urgent-actions?q=Li%20Wei&region=%00",
                         "/en/urgent-actions?region=demo%00", "/api/v1/urgent-actions?theme=%00", "/api/v1/documents?language=en%00"] {
                let r = try await send(app, .GET, path)
                #expect(r.status == .badRequest, "\(path)")
                #expect(r.body.string.contains("control character"), "\(path)")
            }
            let found = try await send(app, .GET, "/en/urgent-actions?q=Li%00Wei")
            #expect(found.status == .ok)
            #expect(found.body.string.contains("Li Wei"))
        }
    }

    /// Also from the full run on PostgreSQL: a log-in with a NUL in its address, and opening
    /// published content under a subject holding one, reached a query and answered 500.
    @Test(arguments: TestStorage.available)
    func aControlCharacterInALookedUpValueIsRefusedNotQueried(storage: TestStorage) async throws {
        #expect(AccountController.normalisedEmail("a\u{0}b@example.org") == nil)
        #expect(AccountController.normalisedEmail(" Ana@Example.org ") == "ana@example.org")
        #expect("x\ty".hasControlCharacter && "a\u{0}".hasControlCharacter && !"Ана 李 علي".hasControlCharacter)
        try await withApp(storage) { app in
            try await loadDemo(app)
            let anon = Browser(app)
            let (login, _) = try await anon.post("/login", ["email": "a\u{0}b@example.org", "password": "correct horse battery staple"], csrfFrom: "/login")
            #expect(login.status == .unauthorized)
            let edna = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            for subject in ["ru-prosecutor-general\u{0}", "\u{0}"] {
                let (r, _) = try await edna.post("/newsroom/edit", ["kind": "target", "subject": subject], csrfFrom: "/newsroom/drafts")
                #expect(r.status == .notFound, "\(subject.debugDescription)")
            }
            let (ok, _) = try await edna.post("/newsroom/edit", ["kind": "target", "subject": "ru-prosecutor-general"], csrfFrom: "/newsroom/drafts")
            #expect(ok.status == .seeOther)
        }
    }

    /// From a review after the full runs: a page cursor whose JSON holds a NUL, and a new draft's
    /// case or original holding one, reached PostgreSQL.
    @Test(arguments: TestStorage.available)
    func aControlCharacterInACursorOrANewDraftIsRefused(storage: TestStorage) async throws {
        let nul = Cursor.encode(["\u{0}"])
        #expect(Cursor.decode(nul) == nil && Cursor.decode(Cursor.encode(["26-00126"])) == ["26-00126"])
        try await withApp(storage) { app in
            try await loadDemo(app)
            for path in ["/api/v1/urgent-actions?cursor=\(nul)", "/api/v1/documents?cursor=\(nul)", "/api/v1/cases?cursor=\(nul)"] {
                #expect(try await send(app, .GET, path).status == .badRequest, "\(path)")
            }
            let edna = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            let before = try await DraftItemModel.query(on: app.db).count()
            let (ua, _) = try await edna.post("/newsroom/drafts", ["kind": "urgent_action", "case": "demo-li-wei\u{0}", "language": "en"], csrfFrom: "/newsroom/drafts")
            #expect(ua.status == .unprocessableEntity)
            let (tr, _) = try await edna.post("/newsroom/drafts", ["kind": "translation", "original": "ua-126-19-0-en\u{0}", "language": "fr"], csrfFrom: "/newsroom/drafts")
            #expect(tr.status == .unprocessableEntity)
            #expect(try await DraftItemModel.query(on: app.db).count() == before)
        }
    }
}
