import Fluent
import Foundation
import VigilCore

/// One thing being written in the newsroom: a case, a target, or a document of an urgent action
/// (the initial document of a new urgent action, an update, an outcome, or a translation). Its
/// text lives in its revisions; this row holds where it stands.
final class DraftItemModel: Model, @unchecked Sendable {
    static let schema = "draft_items"
    @ID(key: .id) var id: UUID?
    /// `case`, `target`, `document`.
    @Field(key: "kind") var kind: String
    /// The id of the case, target or document it publishes as, once known.
    @OptionalField(key: "subject") var subject: String?
    /// For a document: its case.
    @OptionalField(key: "case_id") var caseID: String?
    /// For a document: its urgent action's number (`126/19`) once known — typed in, assigned
    /// when first scheduled or published, or that of the action an update belongs to.
    @OptionalField(key: "ua_number") var uaNumber: String?
    /// Whether `ua_number` of a new urgent action was typed in (it comes from elsewhere).
    @Field(key: "number_typed") var numberTyped: Bool
    @Field(key: "title") var title: String
    @OptionalField(key: "language") var language: String?
    @Field(key: "state") var state: String
    @Field(key: "current_revision") var currentRevision: Int
    @OptionalField(key: "approved_revision") var approvedRevision: Int?
    @OptionalField(key: "published_revision") var publishedRevision: Int?
    @OptionalField(key: "scheduled_at") var scheduledAt: Date?
    @OptionalField(key: "schedule_zone") var scheduleZone: String?
    @OptionalField(key: "scheduled_by") var scheduledBy: UUID?
    @OptionalField(key: "published_at") var publishedAt: Date?
    /// How late a scheduled publication went out (Vigil was down, or busy), when it was late.
    @OptionalField(key: "late_seconds") var lateSeconds: Int?
    /// Published without review: waits in the "review after publishing" queue.
    @Field(key: "emergency") var emergency: Bool
    /// Why a due schedule could not be published (shown as a missed schedule).
    @OptionalField(key: "last_error") var lastError: String?
    /// For a translation: the document it translates, and the content hash of that original's
    /// revision the translation was made from (to flag it outdated when the original changes).
    @OptionalField(key: "original_id") var originalID: String?
    @OptionalField(key: "original_hash") var originalHash: String?
    @OptionalField(key: "created_by") var createdBy: UUID?
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}
}

/// One saved version of an item: the full JSON of the case (without its urgent actions), target
/// or document, in the interchange format's own shape. Never changed afterwards, except by a
/// redaction (safety outranks history).
final class DraftRevisionModel: Model, @unchecked Sendable {
    static let schema = "draft_revisions"
    @ID(key: .id) var id: UUID?
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "number") var number: Int
    @Field(key: "content") var content: String
    @Field(key: "content_hash") var contentHash: String
    /// `account`, `token`, `cli`, `system`.
    @Field(key: "author_kind") var authorKind: String
    @OptionalField(key: "author_id") var authorID: UUID?
    @OptionalField(key: "comment") var comment: String?
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

/// Who moved an item, when, from which state to which, with what comment.
final class DraftEventModel: Model, @unchecked Sendable {
    static let schema = "draft_events"
    @ID(key: .id) var id: UUID?
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "at") var at: Date
    @Field(key: "actor_kind") var actorKind: String
    @OptionalField(key: "actor_id") var actorID: UUID?
    @Field(key: "action") var action: String
    @Field(key: "from_state") var fromState: String
    @Field(key: "to_state") var toState: String
    @Field(key: "revision") var revision: Int
    @OptionalField(key: "comment") var comment: String?
    init() {}
}

/// Who has an item open for editing, and when they last showed it.
final class DraftPresenceModel: Model, @unchecked Sendable {
    static let schema = "draft_presence"
    @ID(key: .id) var id: UUID?
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "account_id") var accountID: UUID
    @Field(key: "seen_at") var seenAt: Date
    init() {}
}

/// A signed, expiring, revocable link that shows one item to a reviewer without an account.
final class PreviewLinkModel: Model, @unchecked Sendable {
    static let schema = "preview_links"
    @ID(key: .id) var id: UUID?
    @Field(key: "item_id") var itemID: UUID
    /// SHA-256 of the token: the token itself is shown once and never stored.
    @Field(key: "token_hash") var tokenHash: String
    /// Who it is for ("our lawyer"), as the publisher wrote it.
    @Field(key: "label") var label: String
    @OptionalField(key: "created_by") var createdBy: UUID?
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    init() {}
}

/// One view of a preview link: when, and which revision it showed. Nothing about the viewer.
final class PreviewViewModel: Model, @unchecked Sendable {
    static let schema = "preview_views"
    @ID(key: .id) var id: UUID?
    @Field(key: "link_id") var linkID: UUID
    @Field(key: "at") var at: Date
    @Field(key: "revision") var revision: Int
    init() {}
}

extension Drafts {
    /// Replaces `from` by `to` in every revision, title, workflow comment and revision comment of
    /// the newsroom's items for an urgent action (its documents, numbered or not yet) and its
    /// case. Revisions are JSON: each string in them is replaced, and the content hash follows.
    static func redact(caseID: String, number: UANumber, documents: [String], from: String, to: String, on db: any Database) async throws {
        var items = try await DraftItemModel.query(on: db).group(.or) { g in
            g.filter(\.$uaNumber == number.description)
            g.group(.and) { $0.filter(\.$kind == DraftKind.kase.rawValue).filter(\.$subject == caseID) }
            if !documents.isEmpty { g.filter(\.$subject ~~ documents) }
        }.all()
        // A new urgent action's drafts on the case that have no number yet name the same people.
        items += try await DraftItemModel.query(on: db).filter(\.$caseID == caseID).filter(\.$uaNumber == nil).all()
        func replaced(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let s): return .string(s.replacingOccurrences(of: from, with: to))
            case .array(let a): return .array(a.map(replaced))
            case .object(let o): return .object(o.mapValues(replaced))
            default: return value
            }
        }
        for item in Dictionary(items.map { ($0.id!, $0) }, uniquingKeysWith: { a, _ in a }).values {
            item.title = item.title.replacingOccurrences(of: from, with: to)
            item.lastError = item.lastError?.replacingOccurrences(of: from, with: to)
            try await item.update(on: db)
            for rev in try await DraftRevisionModel.query(on: db).filter(\.$itemID == item.id!).all() {
                let text = replaced(parse(rev.content)).serialized(pretty: false)
                let comment = rev.comment?.replacingOccurrences(of: from, with: to)
                guard text != rev.content || comment != rev.comment else { continue }
                rev.content = text
                rev.contentHash = hash(text)
                rev.comment = comment
                try await rev.update(on: db)
            }
            for e in try await DraftEventModel.query(on: db).filter(\.$itemID == item.id!).all() where e.comment?.contains(from) == true {
                e.comment = e.comment?.replacingOccurrences(of: from, with: to)
                try await e.update(on: db)
            }
        }
    }
}
