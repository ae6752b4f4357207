import Fluent
import Foundation

/// The audit log (`Newsroom/AuditLog.swift`) and its head row, which starts at entry 0 with the
/// genesis hash.
struct CreateAuditLog: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("audit_log")
            .field("seq", .int64, .identifier(auto: false))
            .field("at", .string, .required)
            .field("actor_kind", .string, .required)
            .field("actor_id", .string)
            .field("action", .string, .required)
            .field("subject", .string)
            .field("detail", .string, .required)
            .field("before_revision", .string)
            .field("after_revision", .string)
            .field("prev_hash", .string, .required)
            .field("hash", .string, .required)
            .create()
        try await db.createIndex("audit_log_at_idx", on: "audit_log", "at")
        try await db.createIndex("audit_log_action_idx", on: "audit_log", "action")
        try await db.createIndex("audit_log_actor_idx", on: "audit_log", "actor_id")
        try await db.createIndex("audit_log_subject_idx", on: "audit_log", "subject")
        try await db.createIndex("audit_log_hash_idx", on: "audit_log", "hash")
        try await db.schema("audit_head")
            .field("id", .int, .identifier(auto: false))
            .field("seq", .int64, .required)
            .field("hash", .string, .required)
            .create()
        let head = AuditHeadModel()
        head.id = 1; head.seq = 0; head.hash = Audit.genesis
        try await head.create(on: db)
    }

    func revert(on db: any Database) async throws {
        try await db.schema("audit_head").delete()
        try await db.schema("audit_log").delete()
    }
}
