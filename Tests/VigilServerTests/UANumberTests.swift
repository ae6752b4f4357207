import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Urgent action numbers assigned by Vigil (`UANumbers`), and `POST /api/v1/cases/{id}/urgent-actions`.
/// The demo holds 126/19, 12/25, 77/26 and 88/26; tests read the date as 2026-11-30, so the next
/// number Vigil assigns is 89/26.
@Suite("Urgent action numbers")
struct UANumberTests {
    static let caseID = "demo-li-wei"
    static let initial = #"{"sequence":0,"kind":"initial","language":"en","published":"2026-11-30","title":"New","body":"Write now."}"#

    static func body(number: String? = nil, documents: [String] = [initial]) -> String {
        let n = number.map { #""number":"\#($0)","# } ?? ""
        return #"{\#(n)"documents":[\#(documents.joined(separator: ","))]}"#
    }

    /// Publishes a new urgent action of `caseID` through the publisher, as the API does.
    @discardableResult
    static func create(_ app: Application, number: String? = nil, documents: [String] = [initial], caseID: String = caseID,
                       publisher: Publisher? = nil) async throws -> UANumber {
        let new = try NewUrgentAction.read(try JSONValue.parse(Data(body(number: number, documents: documents).utf8)), caseID: caseID)
        let result = try await (publisher ?? app.vigilServices.publisher).publish(.newUrgentAction(new), by: .commandLine, alerts: false, on: app.db)
        return try #require(result.createdUrgentAction)
    }

    static func numbers(of year: Int, _ db: any Database) async throws -> [Int] {
        try await UrgentActionModel.query(on: db).all().compactMap { UANumber($0.number) }.filter { $0.year == year }.map(\.serial).sorted()
    }

    @Test("Assigned numbers continue after the year's stored numbers, imported ones too", arguments: TestStorage.available)
    func sequential(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            #expect(try await Self.create(app).description == "89/26")
            #expect(try await Self.create(app).description == "90/26")
            // An import brings 120/26 without the allocator.
            var bundle = try demoBundle()
            let c = bundle.cases.firstIndex { $0.id == Self.caseID }!
            var imported = bundle.cases[c].urgentActions[0]
            imported.number = UANumber("120/26")!
            imported.documents = imported.documents.map { d in
                var d = d; d.id = d.id.replacingOccurrences(of: "88-26", with: "120-26"); d.translationOf = d.translationOf?.replacingOccurrences(of: "88-26", with: "120-26"); return d
            }
            bundle.cases[c].urgentActions = [imported]
            try await publish(app, bundle)
            #expect(try await Self.create(app).description == "121/26")
            // Documents take the number into their ids; `{number}` stands for it in ids and translation_of.
            let tr = #"{"id":"ua-{number}-0-fr","translation_of":"ua-{number}-0-en","sequence":0,"kind":"initial","language":"fr","published":"2026-11-30","title":"Nouveau","body":"Écrivez."}"#
            let n = try await Self.create(app, documents: [Self.initial, tr])
            #expect(n.description == "122/26")
            let docs = try await DocumentModel.query(on: app.db).filter(\.$urgentActionID == "122-26").sort(\.$id).all()
            #expect(docs.map(\.id) == ["ua-122-26-0-en", "ua-122-26-0-fr"])
            #expect(docs.last?.translationOf == "ua-122-26-0-en")
            #expect(try await UrgentActionModel.find("122-26", on: app.db)?.caseID == Self.caseID)
        }
    }

    @Test("A typed number of the current year moves the counter past it; other years leave it", arguments: TestStorage.available)
    func typedNumbers(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            #expect(try await Self.create(app, number: "200/26").description == "200/26")
            #expect(try await Self.create(app).description == "201/26")
            #expect(try await Self.create(app, number: "5/19").description == "5/19")
            #expect(try await Self.create(app, number: "150/26").description == "150/26")
            #expect(try await Self.create(app).description == "202/26")
            #expect(try await Self.numbers(of: 26, app.db) == [77, 88, 150, 200, 201, 202])
        }
    }

    @Test("A typed number that exists is refused and allocates nothing", arguments: TestStorage.available)
    func typedExisting(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let error = await #expect(throws: PublishingRefusal.self) { try await Self.create(app, number: "77/26") }
            #expect(error?.status == .conflict)
            #expect(error?.reason.contains("UA 77/26 exists already") == true)
            // Refused with a bigger number than the counter's, too: the counter stays.
            try await Self.create(app, number: "300/26")
            await #expect(throws: PublishingRefusal.self) { try await Self.create(app, number: "300/26") }
            #expect(try await Self.create(app).description == "301/26")
        }
    }

    @Test("A refused publication leaves no gap", arguments: TestStorage.available)
    func refusedLeavesNoGap(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let logBefore = try await PublishingLogModel.query(on: app.db).count()
            // Refused by the reference rules, after the number was taken inside the transaction.
            let unknownTarget = #"{"sequence":0,"kind":"initial","language":"en","published":"2026-11-30","title":"New","body":"x","take_action":{"targets":[{"target":"nobody"}]}}"#
            let refused = await #expect(throws: ValidationError.self) { try await Self.create(app, documents: [unknownTarget]) }
            #expect(refused?.issues.map(\.path) == ["$.documents[0].take_action.targets[0].target"])
            // A document id that belongs to another urgent action.
            let taken = #"{"id":"ua-77-26-0-en","sequence":0,"kind":"initial","language":"en","published":"2026-11-30","title":"New","body":"x"}"#
            await #expect(throws: ValidationError.self) { try await Self.create(app, documents: [taken]) }
            // An unknown case.
            let missing = await #expect(throws: PublishingRefusal.self) { try await Self.create(app, caseID: "no-such-case") }
            #expect(missing?.status == .notFound)
            #expect(try await PublishingLogModel.query(on: app.db).count() == logBefore)
            #expect(try await Self.create(app).description == "89/26")
        }
    }

    @Test("50 publishers at once get 50 consecutive numbers", arguments: TestStorage.available)
    func concurrent(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let got = try await Self.createConcurrently([app], each: 50)
            #expect(got == Array(89..<139))
            #expect(try await Self.numbers(of: 26, app.db) == [77] + Array(88..<139))
        }
    }

    @Test("Two processes (two applications, two pools) on one PostgreSQL: 25 each at once, no gap, no duplicate",
          .enabled(if: TestStorage.available.contains(.postgres)))
    func twoProcesses() async throws {
        try await withTwoApps { a, b in
            try await loadDemo(a)
            let got = try await Self.createConcurrently([a, b], each: 25)
            #expect(got == Array(89..<139))
            #expect(try await Self.numbers(of: 26, b.db) == [77] + Array(88..<139))
            // And the counter both read.
            let row = try await (a.db as! any SQLDatabase).raw("SELECT \"last\" FROM ua_number_counters WHERE \"year\" = 26").first()
            #expect(try row?.decode(column: "last", as: Int.self) == 138)
        }
    }

    /// `each` creations on every application at once; the serials assigned, sorted.
    static func createConcurrently(_ apps: [Application], each: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: UANumber.self) { group in
            for app in apps {
                for _ in 0..<each { group.addTask { try await Self.create(app) } }
            }
            var got: [UANumber] = []
            for try await n in group { got.append(n) }
            #expect(Set(got.map(\.year)) == [26])
            return got.map(\.serial).sorted()
        }
    }

    @Test("A new year starts again at 1", arguments: TestStorage.available)
    func yearBoundary(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            #expect(try await Self.create(app).description == "89/26")
            var newYear = app.vigilServices.publisher
            newYear.clock = { ActionClock(fixedToday: "2027-01-01") }
            #expect(try await Self.create(app, publisher: newYear).description == "1/27")
            #expect(try await Self.create(app, publisher: newYear).description == "2/27")
            // Publishing on 2026's date still continues 2026's numbers.
            #expect(try await Self.create(app).description == "90/26")
            // The year of publication follows the configured time zone.
            let p = app.vigilServices.publisher
            let instant = Date(timeIntervalSince1970: 1_798_729_200) // 2026-12-31T15:00:00Z, 2027-01-01 00:00 in Tokyo
            let tokyo = Publisher(cache: p.cache, alerts: p.alerts, now: { instant }, stagingDatabase: p.stagingDatabase,
                                  clock: { ActionClock(timeZone: ActionClock.zone(named: "Asia/Tokyo")!) })
            #expect(try await Self.create(app, publisher: tokyo).description == "3/27")
            #expect(UANumbers.year(of: ActionClock(timeZone: ActionClock.zone(named: "America/Bogota")!).today(instant)) == 26)
        }
    }

    // MARK: - The API

    @Test("POST /api/v1/cases/{id}/urgent-actions answers with the number", arguments: TestStorage.available)
    func api(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let h = try await editorHeaders(app)
            let path = "/api/v1/cases/\(Self.caseID)/urgent-actions"
            let res = try await send(app, .POST, path, headers: h, json: Self.body())
            #expect(res.status == .created)
            #expect(res.json["number"] == .string("89/26"))
            #expect(res.json["id"] == .string("89-26"))
            #expect(res.json["url"]?.stringValue?.hasSuffix("/urgent-actions/89-26") == true)
            #expect(res.json["documents"] == .array([.string("ua-89-26-0-en")]))
            #expect(res.headers.first(name: .location) == "/api/v1/urgent-actions/89-26")
            let stored = try await send(app, .GET, "/api/v1/urgent-actions/89-26")
            #expect(stored.json["case"] == .string(Self.caseID))
            #expect(stored.json["status"] == .string("open"))
            // Typed in; then taken.
            let typed = try await send(app, .POST, path, headers: h, json: Self.body(number: "500/26"))
            #expect(typed.status == .created && typed.json["number"] == .string("500/26"))
            let taken = try await send(app, .POST, path, headers: h, json: Self.body(number: "500/26"))
            #expect(taken.status == .conflict)
            #expect(taken.json["reason"]?.stringValue?.contains("UA 500/26 exists already") == true)
            #expect(try await send(app, .POST, path, headers: h, json: Self.body()).json["number"] == .string("501/26"))
            // Each is in the publishing log as its own change.
            #expect(try await PublishingLogModel.query(on: app.db).filter(\.$action == "urgent_action.create").count() == 3)
        }
    }

    @Test("The endpoint refuses as the other API writes do", arguments: TestStorage.available)
    func apiRefusals(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let path = "/api/v1/cases/\(Self.caseID)/urgent-actions"
            let body = Self.body()
            #expect(try await send(app, .POST, path, json: body).status == .unauthorized)
            let read = try await APIToken.create(role: "publisher", scope: "read", label: "read", on: app.db).token
            #expect(try await send(app, .POST, path, headers: ["Authorization": "Bearer \(read)"], json: body).status == .forbidden)
            let h = try await editorHeaders(app)
            let missing = try await send(app, .POST, "/api/v1/cases/no-such-case/urgent-actions", headers: h, json: body)
            #expect(missing.status == .notFound)
            #expect(missing.json["reason"]?.stringValue?.contains("no-such-case") == true)
            #expect(try await send(app, .POST, "/api/v1/cases/Not%20A%20Slug/urgent-actions", headers: h, json: body).status == .badRequest)
            #expect(try await send(app, .POST, path, headers: h, json: "{").status == .badRequest)
            #expect(try await send(app, .POST, path, headers: h, json: body, contentType: "text/plain").status == .unsupportedMediaType)

            func issues(_ json: String) async throws -> [String] {
                let res = try await send(app, .POST, path, headers: h, json: json)
                #expect(res.status == .unprocessableEntity, "\(json)")
                #expect(res.json["error"] == .bool(true))
                return res.json["issues"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
            }
            #expect(try await issues("[1]") == ["$"])
            #expect(try await issues("{}") == ["$.documents"])
            #expect(try await issues(#"{"documents":[]}"#) == ["$.documents"])
            #expect(try await issues(#"{"number":"126-19","status":"maybe","colour":1,"documents":[\#(Self.initial)]}"#)
                    == ["$.number", "$.status", "$.colour"])
            // No initial document: an update alone cannot start an urgent action.
            let update = #"{"sequence":1,"kind":"update","language":"en","published":"2026-11-30","title":"U","body":"x"}"#
            #expect(try await issues(Self.body(documents: [update])) == ["$.documents"])
            // Documents are read as in a bundle, every problem listed.
            let bad = #"{"id":"Bad Id {number}","sequence":0,"kind":"initial","language":"en","title":"T","body":"x"}"#
            let badIssues = try await send(app, .POST, path, headers: h, json: Self.body(documents: [bad]))
            #expect(badIssues.json["issues"]?.arrayValue?.compactMap { $0["path"]?.stringValue } == ["$.documents[0].id", "$.documents[0].published"])
            #expect(badIssues.json["issues"]?.arrayValue?.first?["message"]?.stringValue?.contains("{number}") == true)
            // An outcome closes the new action: status closed, or left out.
            let outcome = #"{"sequence":1,"kind":"outcome","outcome":"good-news","no_further_action":true,"language":"en","published":"2026-11-30","title":"Freed","body":"x"}"#
            #expect(try await issues(#"{"status":"open","documents":[\#(Self.initial),\#(outcome)]}"#) == ["$.status"])
            // Nothing was written, nothing numbered.
            #expect(try await UrgentActionModel.query(on: app.db).count() == 4)
            let ok = try await send(app, .POST, path, headers: h, json: Self.body(documents: [Self.initial, outcome]))
            #expect(ok.status == .created && ok.json["number"] == .string("89/26"))
            #expect(try await send(app, .GET, "/api/v1/urgent-actions/89-26").json["status"] == .string("closed"))
        }
    }
}

/// Two applications — two connection pools, as two processes — on one PostgreSQL schema.
func withTwoApps(_ body: @Sendable (Application, Application) async throws -> Void) async throws {
    var config = VigilConfiguration(storage: .postgres(url: try postgresURL()))
    let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    config.postgresSearchPath = [schema]
    config.fixedToday = testToday
    config.databasePoolTimeoutSeconds = 180
    let a = try await Application.make(.testing)
    let b = try await Application.make(.testing)
    do {
        try await configure(a, config)
        try await (a.db as! any SQLDatabase).raw("CREATE SCHEMA \(ident: schema)").run()
        try await a.autoMigrate()
        try await configure(b, config)
        try await body(a, b)
    } catch {
        try? await (a.db as! any SQLDatabase).raw("DROP SCHEMA \(ident: schema) CASCADE").run()
        try? await a.asyncShutdown()
        try? await b.asyncShutdown()
        throw error
    }
    try? await (a.db as! any SQLDatabase).raw("DROP SCHEMA \(ident: schema) CASCADE").run()
    try await a.asyncShutdown()
    try await b.asyncShutdown()
}
