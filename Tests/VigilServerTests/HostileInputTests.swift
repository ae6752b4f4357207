import Foundation
import Testing
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
}
