import Fluent
import Foundation
import VigilCore

/// Who made a change to published content.
struct Author: Sendable, Equatable, CustomStringConvertible {
    /// `cli` (a command on the server), `token` (an API token), `editor` (a signed-in editor), `system`.
    var kind: String
    var id: String?

    static let commandLine = Author(kind: "cli")
    static func token(_ id: UUID) -> Author { Author(kind: "token", id: id.uuidString.lowercased()) }
    static func editor(_ id: UUID) -> Author { Author(kind: "editor", id: id.uuidString.lowercased()) }

    var description: String { id.map { "\(kind):\($0)" } ?? kind }

    init(kind: String, id: String? = nil) { self.kind = kind; self.id = id }

    init(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        self.init(kind: parts.first ?? text, id: parts.count > 1 ? parts[1] : nil)
    }
}

/// What one publishing write created or changed, by id.
struct ChangeSet: Sendable, Equatable {
    var cases: Set<String> = []
    var targets: Set<String> = []
    var urgentActions: Set<String> = []
    var documents: Set<String> = []

    var isEmpty: Bool { cases.isEmpty && targets.isEmpty && urgentActions.isEmpty && documents.isEmpty }

    /// The page-cache tags of everything that shows this change: the listings (home, list,
    /// search, outcomes, feeds, sitemap, packs, the full export) whatever changed, each changed
    /// case's pages and documents, and the pages and documents that name a changed target.
    var cacheTags: Set<String> {
        guard !isEmpty else { return [] }
        return Set([CacheTag.listing]).union(cases.map(CacheTag.case)).union(targets.map(CacheTag.target))
            .union(targets.isEmpty ? [] : [CacheTag.directory])
    }
}

/// Names of what a cached entry shows; a change invalidates the entries that carry its tags.
enum CacheTag {
    static let listing = "listing"
    static func `case`(_ id: String) -> String { "case:" + id }
    static func target(_ id: String) -> String { "target:" + id }
    /// Pages that look a diplomatic mission up in the directory (the embassy of the reader's
    /// country): any change of a target may change them.
    static let directory = "directory"
}

/// The publishing log: every change to published content, who made it and when, written in the
/// transaction that made it. The newsroom's audit trail reads it, and every Vigil process reads
/// its newest entries once a second to drop the cached pages a change made elsewhere affects.
final class PublishingLogModel: Model, @unchecked Sendable {
    static let schema = "publishing_log"
    @ID(custom: "seq", generatedBy: .database) var id: Int?
    @Field(key: "at") var at: Date
    @Field(key: "author") var author: String
    @Field(key: "action") var action: String
    @Field(key: "cases_json") var casesJSON: String
    @Field(key: "targets_json") var targetsJSON: String
    @Field(key: "urgent_actions_json") var urgentActionsJSON: String
    @Field(key: "documents_json") var documentsJSON: String
    @Field(key: "created") var created: Int
    @Field(key: "updated") var updated: Int
    init() {}

    var changes: ChangeSet {
        ChangeSet(cases: Self.set(casesJSON), targets: Self.set(targetsJSON), urgentActions: Self.set(urgentActionsJSON),
                  documents: Self.set(documentsJSON))
    }

    static func json(_ ids: Set<String>) -> String {
        JSONValue.array(ids.sorted().map { .string($0) }).serialized(pretty: false)
    }

    static func set(_ json: String) -> Set<String> {
        Set(((try? JSONValue.parse(Data(json.utf8)))?.arrayValue ?? []).compactMap(\.stringValue))
    }
}

enum PublishingLog {
    /// Records a change (inside its transaction); returns the entry's sequence number.
    @discardableResult
    static func record(_ changes: ChangeSet, action: String, author: Author, summary: WriteSummary, at: Date,
                       on db: any Database) async throws -> Int? {
        let row = PublishingLogModel()
        row.at = at; row.author = author.description; row.action = action
        row.casesJSON = PublishingLogModel.json(changes.cases); row.targetsJSON = PublishingLogModel.json(changes.targets)
        row.urgentActionsJSON = PublishingLogModel.json(changes.urgentActions)
        row.documentsJSON = PublishingLogModel.json(changes.documents)
        row.created = summary.created; row.updated = summary.updated
        try await row.create(on: db)
        return row.id
    }

    /// The newest entry's sequence number (nil before the first): any content written since a
    /// reading of it makes it greater.
    static func head(on db: any Database) async throws -> Int? {
        try await PublishingLogModel.query(on: db).max(\.$id)
    }

    /// Entries newest first, at most `limit`.
    static func recent(limit: Int = 50, on db: any Database) async throws -> [PublishingLogModel] {
        try await PublishingLogModel.query(on: db).sort(\.$id, .descending).limit(limit).all()
    }
}
