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
        iso = ClockText.iso(date)
        text = "\(ClockText.minute(date, zone: zone)) \(zone.identifier == "GMT" ? "UTC" : zone.identifier)"
    }

    init(iso: String, text: String) { self.iso = iso; self.text = text }

    static let example = Moment(iso: "2026-12-03T09:00:00Z", text: "2026-12-03 10:00 Europe/Madrid")
}

/// Times as text, counted from the clock (`gmtime_r` and the zone's offset at that moment) rather
/// than by a `DateFormatter` or `ISO8601DateFormatter` made for each: making one costs hundreds of
/// microseconds, and a newsroom list shows two or more times a row.
enum ClockText {
    /// `2026-12-03 10:00`: the minute in `zone` (what `yyyy-MM-dd HH:mm` gives).
    static func minute(_ date: Date, zone: TimeZone) -> String {
        let p = parts(date, offset: zone.secondsFromGMT(for: date))
        return "\(four(p.tm_year + 1900))-\(two(p.tm_mon + 1))-\(two(p.tm_mday)) \(two(p.tm_hour)):\(two(p.tm_min))"
    }

    /// `2026-12-03T09:00:00Z`: whole seconds in UTC (an `ISO8601DateFormatter`'s default).
    static func iso(_ date: Date) -> String {
        let p = parts(date, offset: 0)
        return "\(four(p.tm_year + 1900))-\(two(p.tm_mon + 1))-\(two(p.tm_mday))T\(two(p.tm_hour)):\(two(p.tm_min)):\(two(p.tm_sec))Z"
    }

    /// The fields of the clock at `offset` seconds from UTC, the seconds' fraction dropped as the
    /// formatters drop it: the nearest millisecond since 1970 first, then whole seconds.
    private static func parts(_ date: Date, offset: Int) -> tm {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        var t = time_t((ms / 1000).rounded(.down)) + time_t(offset)
        var p = tm()
        gmtime_r(&t, &p)
        return p
    }

    private static func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private static func four(_ v: Int32) -> String { v >= 1000 ? "\(v)" : String(repeating: "0", count: 4 - String(v).count) + "\(v)" }
}

extension Request {
    /// The zone newsroom times are shown in: the account's own choice, else the organisation's
    /// (`VIGIL_TIME_ZONE`).
    var newsroomZone: TimeZone {
        currentSession?.supporter.timeZone.flatMap(ActionClock.zone(named:)) ?? ActionClock.current.timeZone
    }
}
