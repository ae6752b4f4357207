import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// "You can act on this now": one definition (`ActionStanding`) behind every card, page, list
/// filter and the API, on both databases. The tests read deadlines as on `testToday` (2026-11-30).
@Suite("Where an urgent action stands")
struct StandingTests {
    /// The demo with UA 88/26's deadline moved to yesterday.
    func demoWithPassedDeadline(_ app: Application) async throws {
        var bundle = try demoBundle()
        let i = bundle.cases.firstIndex { $0.id == "demo-li-wei" }!
        for j in bundle.cases[i].urgentActions[0].documents.indices {
            bundle.cases[i].urgentActions[0].documents[j].takeAction?.deadline = PartialDate("2026-11-29")
        }
        try await publish(app, bundle)
    }

    func numbers(_ json: JSONValue) -> [String] {
        (json["data"]?.arrayValue ?? []).compactMap { $0["number"]?.stringValue }.sorted()
    }

    @Test(arguments: TestStorage.available) func everyListAgreesOnWhatIsOpen(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await demoWithPassedDeadline(app)
            // The home page offers only what can be acted on today.
            let home = try await html(app, "/").body
            #expect(home.contains("/urgent-actions/77-26/initial"))
            #expect(!home.contains("/urgent-actions/88-26/"), "a passed deadline is not an open action")
            #expect(!home.contains("/urgent-actions/126-19/initial") && !home.contains("/urgent-actions/12-25/initial"))
            #expect(home.contains("Open: 15 days left"), "77/26 ends on 15 December")
            // The list's filter and the API's, the same three ways.
            let open = try await html(app, "/urgent-actions?status=open").body
            #expect(open.contains("/urgent-actions/77-26/initial") && !open.contains("/urgent-actions/88-26/initial"))
            #expect(!open.contains("/urgent-actions/126-19/"))
            let passed = try await html(app, "/urgent-actions?status=deadline-passed").body
            #expect(passed.contains("/urgent-actions/88-26/initial") && !passed.contains("/urgent-actions/77-26/"))
            #expect(passed.contains("Deadline passed on 29 November 2026"))
            let closed = try await html(app, "/urgent-actions?status=closed").body
            #expect(closed.contains("/urgent-actions/126-19/outcome") && closed.contains("/urgent-actions/12-25/outcome"))
            #expect(!closed.contains("/urgent-actions/77-26/") && !closed.contains("/urgent-actions/88-26/"))
            #expect(try await html(app, "/urgent-actions?status=nope").status == .badRequest)
            #expect(numbers(try await send(app, .GET, "/api/v1/urgent-actions?status=open").json) == ["77/26"])
            #expect(numbers(try await send(app, .GET, "/api/v1/urgent-actions?status=deadline-passed").json) == ["88/26"])
            #expect(numbers(try await send(app, .GET, "/api/v1/urgent-actions?status=closed").json) == ["12/25", "126/19"])
            let one = try await send(app, .GET, "/api/v1/urgent-actions/88-26").json
            #expect(one["standing"]?.stringValue == "deadline-passed" && one["deadline_in_force"]?.stringValue == "2026-11-29")
            #expect(one["status"]?.stringValue == "open", "the stored status is the interchange format's, unchanged")
            // Cases: open cases with nothing open today — 88/26's, and the Crimean Tatar case,
            // open while its one urgent action is closed.
            let cases = try await send(app, .GET, "/api/v1/cases?status=deadline-passed").json
            #expect((cases["data"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }.sorted() == ["crimean-tatar-defenders-kuku", "demo-li-wei"])
            // The pack of open actions holds only 77/26.
            let pack = try await send(app, .GET, "/pack.pdf?country=CN")
            #expect(pack.status == .notFound)
        }
    }

    @Test(arguments: TestStorage.available) func aPassedDeadlineTakesAwayTheLetterAndAnUpdateBringsItBack(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await demoWithPassedDeadline(app)
            let page = try await html(app, "/urgent-actions/88-26/initial").body
            #expect(page.contains("The deadline of this urgent action has passed"))
            #expect(page.contains("Deadline passed on 29 November 2026"))
            #expect(!page.contains("letter-form") && !page.contains("/report?document="), "no letter builder, no report button")
            #expect(page.contains("/follow?case=demo-li-wei"), "follow the case instead")
            #expect(page.contains("There is no open urgent action on this case right now."))
            // A form left open in a tab makes no letter either.
            let late = try await Browser(app).post("/urgent-actions/88-26/initial/letter", ["target": "cn-provincial-procurator"])
            #expect(late.0.status == .gone && late.1.contains("The deadline of UA 88/26 has passed"))
            // An update with a new deadline opens it again.
            let update = #"{"id":"ua-88-26-1-en","sequence":1,"kind":"update","language":"en","published":"2026-11-30","title":"Li Wei moved","body":"Moved.","take_action":{"deadline":"2026-12-31","targets":[{"target":"cn-provincial-procurator"}],"letter":"Dear Minister, release Li Wei."}}"#
            let posted = try await send(app, .POST, "/api/v1/urgent-actions/88-26/documents", headers: try await editorHeaders(app), json: update)
            #expect(posted.status == .created, "\(posted.json)")
            let open = try await html(app, "/urgent-actions?status=open").body
            #expect(open.contains("/urgent-actions/88-26/"))
            let initial = try await html(app, "/urgent-actions/88-26/initial").body
            #expect(initial.contains("This is not the latest news on UA 88/26."))
            #expect(initial.contains("A newer update asks for action") && initial.contains("href=\"/en/urgent-actions/88-26/update-1\""))
            #expect(!initial.contains("letter-form"), "the old ask gives way to the newer one")
            #expect(initial.contains("(replaced by the deadline of a later update)") || initial.contains("(deadline passed)"))
            let newest = try await html(app, "/urgent-actions/88-26/update-1").body
            #expect(newest.contains("letter-form") && newest.contains("Open: 31 days left"))
            #expect(!newest.contains("This is not the latest news"))
        }
    }

    @Test(arguments: TestStorage.available) func aClosedActionSaysSoOnEveryDocumentAndCard(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let initial = try await html(app, "/urgent-actions/126-19/initial").body
            #expect(initial.contains("This urgent action is closed"))
            #expect(initial.contains("Closed: Bad news") && initial.contains("href=\"/en/urgent-actions/126-19/outcome\""))
            #expect(initial.contains("UA 126/19 is closed. Read how it ended: <a href=\"/en/urgent-actions/126-19/outcome\">"))
            #expect(!initial.contains("letter-form") && !initial.contains("/report?document="))
            let closed = try await Browser(app).post("/urgent-actions/126-19/initial/ru/letter", ["target": "ru-prosecutor-general"])
            #expect(closed.0.status == .gone && closed.1.contains("UA 126/19 is closed"))
            // The Russian translation of the same document says it too.
            let russian = try await html(app, "/urgent-actions/126-19/initial/ru").body
            #expect(!russian.contains("letter-form") && russian.contains("take-action-over"))
            let outcome = try await html(app, "/urgent-actions/126-19/outcome").body
            #expect(outcome.contains("Closed: Bad news") && !outcome.contains("This is not the latest news"))
            #expect(outcome.contains("Get updates on this case"))
            // Cards: a closed action's card says closed and links its outcome.
            let list = try await html(app, "/urgent-actions?q=Kuku").body
            #expect(list.contains("standing-closed") && list.contains("Read the outcome"))
            // The case page too.
            let kase = try await html(app, "/cases/demo-ana-morales").body
            #expect(kase.contains("Closed: Good news"))
        }
    }

    /// A card links the outcome that closed its action, read with the action in one statement:
    /// for every document of the demo, the original outcome (its sequence and result) when the
    /// action is closed, none when it is open, and none for an action closed without an outcome.
    @Test(arguments: TestStorage.available) func cardsLinkTheOutcomeThatClosedTheirAction(storage: TestStorage) async throws {
        var bundle = try demoBundle()
        let c = try #require(bundle.cases.indices.first { i in
            bundle.cases[i].urgentActions.contains { $0.status == .open && !$0.documents.contains { $0.kind == .outcome } }
        })
        let u = bundle.cases[c].urgentActions.firstIndex { $0.status == .open && !$0.documents.contains { $0.kind == .outcome } }!
        bundle.cases[c].urgentActions[u].status = .closed
        let closedWithout = bundle.cases[c].urgentActions[u].number
        let actions = bundle.cases.flatMap(\.urgentActions), published = bundle
        try await withApp(storage) { app in
            try await publish(app, published)
            let ids = actions.flatMap { $0.documents.map(\.id) }
            let rows = try await SiteData(db: app.db).documents(ids: ids, today: "2026-11-30")
            #expect(rows.count > 10)
            for row in rows {
                let ua = try #require(actions.first { $0.number == row.number })
                let closing = ua.status == .closed
                    ? ua.documents.filter { $0.kind == .outcome && $0.translationOf == nil }.max { $0.sequence < $1.sequence } : nil
                #expect(row.outcome?.href == closing.map { Endpoint.document(ua.number, kind: .outcome, sequence: $0.sequence).path },
                        "\(row.document.id)")
                #expect(row.outcome?.result == closing?.outcome, "\(row.document.id)")
            }
            #expect(rows.filter { $0.outcome != nil }.count >= 2, "closed actions with outcomes, their translations too")
            #expect(rows.contains { $0.number == closedWithout && $0.outcome == nil && $0.standing == .closed })
        }
    }

    @Test(arguments: TestStorage.available) func pagesWithCountsAreRevalidatedSoAReportShowsAtOnce(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let first = try await html(app, "/urgent-actions/77-26/initial")
            #expect(first.headers.first(name: .cacheControl) == "public, no-cache")
            #expect(try await html(app, "/").headers.first(name: .cacheControl) == "public, no-cache")
            #expect(try await html(app, "/cases/demo-li-wei").headers.first(name: .cacheControl) == "public, max-age=60")
            #expect(first.body.contains("0 actions reported for UA 77/26."))
            let etag = try #require(first.headers.first(name: .eTag))
            #expect(try await html(app, "/urgent-actions/77-26/initial", headers: ["If-None-Match": etag]).status == .notModified)
            let b = Browser(app)
            var form = try await ReportTests().reportForm(b, "ua-77-26-0-ar")
            form["channel"] = "email"
            form["targets[]"] = "eg-public-prosecutor"
            let (posted, _) = try await b.post("/report", form)
            #expect(posted.status == .seeOther, "\(form)")
            #expect(try await ActionReportModel.query(on: app.db).count() == 1)
            // Pages read the totals again once a second (a report never makes page requests wait
            // for the database: bench/cached_page_under_reports.py).
            try await Task.sleep(for: .milliseconds(1100))
            // The browser revalidates: the ETag it holds no longer matches, and the page it gets
            // counts the report (the Arabic document's report counts for the English page too).
            let again = try await html(app, "/urgent-actions/77-26/initial", headers: ["If-None-Match": etag])
            #expect(again.status == .ok)
            #expect(again.body.contains("1 action reported for UA 77/26.") && again.body.contains("1 of them for this document."))
            let total = try #require(again.body.range(of: "1 action reported for UA 77/26."))
            let perDocument = try #require(again.body.range(of: "1 of them for this document."))
            #expect(total.lowerBound < perDocument.lowerBound, "the whole action's total comes first")
        }
    }

    @Test func theTimeZoneIsCheckedAtStart() throws {
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_TIME_ZONE": "Mars/Olympus"]) }
        #expect(throws: VigilConfiguration.Problem.self) { try VigilConfiguration.fromEnvironment(["VIGIL_TODAY": "2026-11"]) }
        let c = try VigilConfiguration.fromEnvironment(["VIGIL_TIME_ZONE": "Asia/Tokyo"])
        #expect(c.timeZone.identifier == "Asia/Tokyo")
        #expect(try VigilConfiguration.fromEnvironment([:]).timeZone.secondsFromGMT(for: Date()) == 0)
    }

    @Test func theSQLConditionAgreesWithTheRule() async throws {
        // Every standing, deadline shape and today against the SQL filter, on SQLite.
        try await withApp { app in
            try await loadDemo(app)
            let rows = try await UrgentActionModel.query(on: app.db).all()
            for today in ["2019-11-14", "2019-11-15", "2026-11-30", "2026-12-15", "2026-12-16", "2027-01-01"] {
                for standing in ActionStanding.allCases {
                    var q = CatalogueQuery(status: standing)
                    q.today = today
                    let ids = try await SiteData(db: app.db).filter(q).ids
                    let docs = try await SiteData(db: app.db).documents(ids: ids, today: today)
                    #expect(docs.allSatisfy { $0.standing == standing }, "\(today) \(standing)")
                    let expected = rows.filter {
                        ActionStanding.of(status: UrgentActionStatus(rawValue: $0.status)!, deadline: $0.deadline.flatMap(PartialDate.init), today: today) == standing
                    }.compactMap(\.id)
                    #expect(Set(docs.map(\.number.slug)) == Set(expected), "\(today) \(standing)")
                }
            }
        }
    }

    /// `vigil demo` loaded after its deadlines passed still shows actions one can act on: their
    /// deadlines move forward by the days since the demo was written; closed ones stay closed.
    @Test func theDemoLoadedLaterStillHasOpenActions() throws {
        let demo = try demoBundle()
        func deadline(_ b: VigilBundle, _ number: String) -> String? {
            let ua = b.cases.flatMap(\.urgentActions).first { $0.number.description == number }!
            return UrgentAction.deadline(of: ua.documents)?.description
        }
        let same = DemoData.current(demo, today: "2026-11-30")
        #expect(deadline(same, "77/26") == "2026-12-15" && deadline(same, "88/26") == "2026-12-31", "on the day it was written, nothing moves")
        #expect(deadline(DemoData.current(demo, today: "2026-12-10"), "77/26") == "2026-12-15", "a deadline not yet passed stays")
        let later = DemoData.current(demo, today: "2027-06-01")
        #expect(deadline(later, "77/26") == "2027-06-16" && deadline(later, "88/26") == "2027-07-02")
        #expect(deadline(later, "126/19") == deadline(demo, "126/19"), "a closed action keeps its dates")
        for number in ["77/26", "88/26"] {
            let ua = later.cases.flatMap(\.urgentActions).first { $0.number.description == number }!
            #expect(ActionStanding.of(status: ua.status, deadline: UrgentAction.deadline(of: ua.documents), today: "2027-06-01") == .open)
            // Every document of it (translations too) says the same deadline.
            #expect(Set(ua.documents.compactMap { $0.takeAction?.deadline?.description }).count == 1)
        }
        #expect(DemoData.add(days: 1, to: PartialDate("2024-02-28")!)?.description == "2024-02-29")
    }
}
