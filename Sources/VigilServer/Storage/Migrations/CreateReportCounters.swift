import Fluent
import Foundation

/// Running totals of action reports per document and channel, kept in the same transaction as
/// the reports, so that totals are one small read however many reports there are.
struct CreateReportCounters: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("report_counters")
            .field("document_id", .string, .required, .references("documents", "id", onDelete: .cascade))
            .field("channel", .string, .required)
            .field("count", .int, .required)
            .compositeIdentifier(over: "document_id", "channel")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("report_counters").delete()
    }
}
