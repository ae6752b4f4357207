import Fluent
import Foundation

struct CreateTimelineEvents: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("timeline_events")
            .id()
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("date", .string, .required)
            .field("date_sort", .string, .required)
            .field("kind", .string, .required)
            .field("people_json", .string, .required)
            .field("summary", .string, .required)
            .field("source", .string)
            .create()
        try await db.createIndex("timeline_events_case_idx", on: "timeline_events", "case_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("timeline_events").delete()
    }
}
