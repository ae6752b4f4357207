import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The bulk import names each table's columns and lists each row's values by hand
/// (`Storage/BulkRows.swift`). Two values of one type put in each other's place would compile,
/// and a test comparing whole imports would miss them wherever the two happen to be equal. Here
/// every field of every bulk-written model holds its own sentinel, and what the bulk path binds
/// and stores is compared, field by field, with what Fluent itself would write.
@Suite("Bulk rows")
struct BulkRowTests {
    /// Fills every field of a model through Fluent's own loading path, with a value no other
    /// field of the row holds: each string and number is new, each date an hour apart, and the
    /// booleans of the two rows differ in a pattern that tells any two of them apart.
    final class SentinelOutput: DatabaseOutput, @unchecked Sendable {
        let row: Int
        let parents: [String: String]
        /// Sets each model's sentinels apart from every other model's (a person's id is no case's).
        let salt: Int
        private var counter = 0
        private var booleans = 0
        init(row: Int, parents: [String: String], salt: Int) { self.row = row; self.parents = parents; self.salt = salt }

        var description: String { "sentinels for row \(row)" }
        func schema(_ schema: String) -> any DatabaseOutput { self }
        func contains(_ key: FieldKey) -> Bool { true }
        func decodeNil(_ key: FieldKey) throws -> Bool { false }
        func decode<T: Decodable>(_ key: FieldKey, as type: T.Type) throws -> T {
            counter += 1
            let n = salt * 100_000 + row * 1000 + counter
            if let parent = parents[key.description] {
                if let v = parent as? T { return v }
                if let v = Optional(parent) as? T { return v }
            }
            let value: Any
            switch type {
            case is String.Type, is String?.Type: value = "sentinel-\(n)-\(key.description)"
            case is Int.Type, is Int?.Type: value = 7000 + n
            case is Date.Type, is Date?.Type: value = Date(timeIntervalSince1970: 1_000_000_000 + Double(n) * 3600)
            case is UUID.Type, is UUID?.Type: value = UUID()
            case is Bool.Type, is Bool?.Type:
                // Row 0: T F T F…, row 1: T T F F…: the column of values differs for each of the
                // first three booleans, so swapping any two of them changes a row.
                let patterns: [(Bool, Bool)] = [(true, false), (false, true), (true, true), (false, false)]
                let p = patterns[booleans % patterns.count]
                booleans += 1
                value = row == 0 ? p.0 : p.1
            default:
                throw SentinelError.unknownType("\(key): \(type)")
            }
            if let v = value as? T { return v }
            throw SentinelError.unknownType("\(key): \(type)")
        }
    }
    enum SentinelError: Error { case unknownType(String) }

    /// What Fluent would bind for each column of a row (`input(to:)` is what `create` uses).
    final class Collected: DatabaseInput {
        var values: [String: String] = [:]
        var wantsUnmodifiedKeys: Bool { true }
        func set(_ value: DatabaseQuery.Value, at key: FieldKey) { values[key.description] = Self.text(value) }
        static func text(_ value: DatabaseQuery.Value) -> String {
            switch value {
            case .bind(let v): return encoded(v)
            case .null: return "null"
            default: return "\(value)"
            }
        }
    }
    struct Box: Encodable { let v: any Encodable; func encode(to e: any Encoder) throws { try v.encode(to: e) } }
    static func encoded(_ v: any Encodable) -> String {
        (try? String(decoding: JSONEncoder().encode([Box(v: v)]), as: UTF8.self)) ?? "unencodable"
    }

    static func fluentValues<M: Model>(_ row: M) -> [String: String] {
        let c = Collected()
        row.input(to: c)
        return c.values
    }

    static func sentinelRow<M: BulkRow>(_ type: M.Type, row: Int, parents: [String: String]) throws -> M {
        let m = M()
        let salt = [CaseModel.schema, UrgentActionModel.schema, DocumentModel.schema, DocumentTargetModel.schema, CaseCountryModel.schema,
                    CaseThemeModel.schema, PersonModel.schema, TimelineEventModel.schema].firstIndex(of: M.schema) ?? 99
        try m.output(from: SentinelOutput(row: row, parents: parents, salt: salt))
        return m
    }

    /// Each column's bound value is the one Fluent binds for that column, and no two fields of a
    /// row hold the same value (else a swap could go unseen).
    static func checkMapping<M: BulkRow>(_ rows: [M]) {
        for row in rows {
            let bulk = Dictionary(uniqueKeysWithValues: zip(M.columns, row.values().map { encoded($0) }))
            let fluent = fluentValues(row)
            #expect(bulk == fluent, "\(M.schema): the bulk values differ from Fluent's")
            let nonBoolean = fluent.values.filter { $0 != "[true]" && $0 != "[false]" }
            #expect(Set(nonBoolean).count == nonBoolean.count, "\(M.schema): two fields share a sentinel")
        }
        let booleanColumns = rows.first.map { fluentValues($0).filter { $0.value == "[true]" || $0.value == "[false]" }.keys } ?? [:].keys
        let patterns = booleanColumns.map { key in rows.map { fluentValues($0)[key]! }.joined(separator: ",") }
        #expect(Set(patterns).count == patterns.count, "\(M.schema): two boolean columns hold the same values in every row")
    }

    /// The rows stored by `insertBulk`, read back by Fluent, hold every sentinel.
    static func checkStored<M: BulkRow>(_ rows: [M], on db: any Database) async throws {
        try await db.insertBulk(rows)
        for row in rows {
            let stored = try #require(try await M.find(row.id, on: db), "\(M.schema): a row was not stored")
            #expect(fluentValues(stored) == fluentValues(row), "\(M.schema): a stored field differs from its sentinel")
        }
    }

    @Test("Every field of every bulk-written model is bound and stored in its own column", arguments: TestStorage.available)
    func everyFieldRoundTrips(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let target = try #require(try demoBundle().targets.first)
            _ = try await ContentWriter(db: app.db).write(target: target)
            let db = app.db
            let cases = try (0..<2).map { try Self.sentinelRow(CaseModel.self, row: $0, parents: [:]) }
            let caseOf = { (r: Int) in ["case_id": cases[r].id!] }
            let actions = try (0..<2).map { try Self.sentinelRow(UrgentActionModel.self, row: $0, parents: caseOf($0)) }
            let documents = try (0..<2).map { try Self.sentinelRow(DocumentModel.self, row: $0, parents: ["urgent_action_id": actions[$0].id!]) }
            let targets = try (0..<2).map {
                try Self.sentinelRow(DocumentTargetModel.self, row: $0, parents: ["document_id": documents[$0].id!, "target_id": target.id])
            }
            let countries = try (0..<2).map { try Self.sentinelRow(CaseCountryModel.self, row: $0, parents: caseOf($0)) }
            let themes = try (0..<2).map { try Self.sentinelRow(CaseThemeModel.self, row: $0, parents: caseOf($0)) }
            let people = try (0..<2).map { try Self.sentinelRow(PersonModel.self, row: $0, parents: caseOf($0)) }
            let events = try (0..<2).map { try Self.sentinelRow(TimelineEventModel.self, row: $0, parents: caseOf($0)) }

            Self.checkMapping(cases); Self.checkMapping(actions); Self.checkMapping(documents); Self.checkMapping(targets)
            Self.checkMapping(countries); Self.checkMapping(themes); Self.checkMapping(people); Self.checkMapping(events)
            // The sentinels really fill every column (an optional left empty would prove nothing).
            #expect(Self.fluentValues(documents[0]).count == DocumentModel.columns.count)
            #expect(!Self.fluentValues(documents[0]).values.contains("null"))

            try await Self.checkStored(cases, on: db)
            try await Self.checkStored(actions, on: db)
            try await Self.checkStored(documents, on: db)
            // Read back by a plain statement, as every public read of documents reads them
            // (`DocumentModel(row:)`): each field from its own column.
            let sql = db as! any SQLDatabase
            for document in documents {
                let row = try #require(try await sql.raw("""
                    SELECT \(unsafeRaw: DocumentModel.columns.joined(separator: ", ")) FROM documents WHERE id = \(bind: document.id!)
                    """).first())
                #expect(Self.fluentValues(try DocumentModel(row: row)) == Self.fluentValues(document))
            }
            try await Self.checkStored(targets, on: db)
            try await Self.checkStored(countries, on: db)
            try await Self.checkStored(themes, on: db)
            try await Self.checkStored(people, on: db)
            try await Self.checkStored(events, on: db)
        }
    }

    /// The check above must fail when two values are put in each other's place.
    @Test("The sentinel check sees two swapped values")
    func sentinelsSeeASwap() throws {
        let row = try Self.sentinelRow(DocumentModel.self, row: 0, parents: ["urgent_action_id": "ua"])
        var values = row.values().map { Self.encoded($0) }
        let title = DocumentModel.columns.firstIndex(of: "title")!, body = DocumentModel.columns.firstIndex(of: "body")!
        values.swapAt(title, body)
        #expect(Dictionary(uniqueKeysWithValues: zip(DocumentModel.columns, values)) != Self.fluentValues(row))
    }
}
