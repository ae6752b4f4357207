import Foundation
import Vapor
import VigilCore

/// A moment on a newsroom page: ISO 8601 in UTC for `<time datetime>`, and as the reader reads it —
/// in their zone, the zone named ("2026-12-03 10:00 Europe/Madrid"), so that a schedule is never
/// read in the wrong zone.
struct Moment: Encodable, Sendable, Equatable {
    var iso: String
    var text: String

    init(_ date: Date, zone: TimeZone) {
        iso = ISO8601DateFormatter().string(from: date)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.calendar = Calendar(identifier: .gregorian)
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm"
        text = "\(f.string(from: date)) \(zone.identifier == "GMT" ? "UTC" : zone.identifier)"
    }

    init(iso: String, text: String) { self.iso = iso; self.text = text }

    static let example = Moment(iso: "2026-12-03T09:00:00Z", text: "2026-12-03 10:00 Europe/Madrid")
}

extension Request {
    /// The zone newsroom times are shown in: the account's own choice, else the organisation's
    /// (`VIGIL_TIME_ZONE`).
    var newsroomZone: TimeZone {
        currentSession?.supporter.timeZone.flatMap(ActionClock.zone(named:)) ?? ActionClock.current.timeZone
    }
}
