import Fluent
import Foundation
import SQLKit
import VigilCore

/// A deterministic synthetic archive of N cases for benchmarks and for operators who want to try
/// Vigil at size (`vigil demo --synthetic N`): the same N and seed give the same bundle, byte for
/// byte. Each case has one or two people (names in Latin, Cyrillic, Arabic and CJK scripts, with
/// their original spelling), a timeline, and one urgent action of three to five documents — the
/// initial action, a translation of it, updates, and an outcome when the case is closed. One
/// official per ten cases. Actions run from 2000 to `today`'s year; the newest forty are open.
enum SyntheticArchive {
    /// The archive's draws: the same archive for the same seed.
    typealias Random = SeededRandom

    struct Person { let name: String, original: String?, language: String? }
    static let people: [Person] = [
        .init(name: "Ana Morales", original: nil, language: nil), .init(name: "Lucía Gómez", original: nil, language: nil),
        .init(name: "Emir Aliyev", original: "Эмир Алиев", language: "ru"), .init(name: "Olga Petrova", original: "Ольга Петрова", language: "ru"),
        .init(name: "Nour Hassan", original: "نور حسن", language: "ar"), .init(name: "Karim Saleh", original: "كريم صالح", language: "ar"),
        .init(name: "Li Wei", original: "李伟", language: "zh-Hans"), .init(name: "Zhang Min", original: "张敏", language: "zh-Hans"),
    ]
    /// Countries, each with the language its translations are in and a title and body in it.
    static let countries: [(code: String, language: String, title: String, body: String)] = [
        ("RU", "ru", "Правозащитник задержан", "Его задержали за мирную правозащитную деятельность. Родственникам не сообщают, где он находится."),
        ("BY", "ru", "Журналистка в заключении", "Её задержали за её работу журналистки. Она содержится без связи с внешним миром."),
        ("EG", "ar", "احتجاز مدافع عن حقوق الإنسان", "احتُجز بسبب نشاطه السلمي في الدفاع عن حقوق الإنسان، ولم تُبلَّغ عائلته بمكان احتجازه."),
        ("SA", "ar", "احتجاز ناشطة بسبب تغريدات", "احتُجزت بسبب تغريدات تدعو إلى الإصلاح، وتواجه حكمًا بالسجن لسنوات طويلة."),
        ("CN", "zh-Hans", "维权人士被单独关押", "他因和平维权活动被警方带走，家人至今不知道他被关押在何处。"),
        ("MX", "es", "Defensora de la tierra detenida", "Fue detenida por defender el territorio de su comunidad. Su familia teme por su seguridad."),
        ("VE", "es", "Periodista detenido arbitrariamente", "Fue detenido tras publicar una investigación. No ha podido ver a su abogado."),
        ("TR", "en", "", ""), ("IR", "en", "", ""), ("PH", "en", "", ""),
    ]
    static let themes = ["arbitrary-detention", "freedom-of-expression", "unfair-trials", "torture", "human-rights-defenders", "labour-rights"]

    static func bundle(cases n: Int, seed: UInt64 = 20_261_201, today: String) -> JSONValue {
        var rng = Random(state: seed)
        let lastYear = Int(today.prefix(4)) ?? 2026
        let officials = max(3, n / 10)
        var targets: [JSONValue] = []
        for t in 0..<officials {
            let country = countries[t % countries.count].code
            targets.append(.object([
                "id": .string("synthetic-official-\(t)"), "title": .string("Prosecutor General"),
                "organisation": .string("Office of the Prosecutor General, region \(t)"),
                "address": .array([.string("[Synthetic address]"), .string("Capital")]), "country": .string(country),
                "salutation": .object(["en": .string("Dear Prosecutor General")]), "languages": .array([.string("en")]),
            ]))
        }
        var cases: [JSONValue] = []
        let years = lastYear - 2000 + 1
        var perYear: [Int: Int] = [:]
        for i in 0..<n {
            // Spread over the years, in order; numbers count up within a year (at most 9,999).
            let year = 2000 + min(years - 1, i * years / max(n, 1))
            perYear[year, default: 0] += 1
            let number = "\(perYear[year]!)/\(String(format: "%02d", year % 100))"
            let slug = number.replacingOccurrences(of: "/", with: "-")
            let country = rng.pick(countries)
            let month = 1 + rng.below(12), day = 1 + rng.below(27)
            let open = i >= n - min(40, n)
            // A closed action's story (its updates a month apart, then the outcome) ends before today.
            let published = min(String(format: "%04d-%02d-%02d", year, month, day), open ? today : Self.later(today, months: -4))
            let personCount = 1 + (rng.below(4) == 0 ? 1 : 0)
            var peopleJSON: [JSONValue] = [], names: [String] = []
            for p in 0..<personCount {
                let who = rng.pick(people)
                let name = "\(who.name) \(i + 1)\(p > 0 ? "-\(p + 1)" : "")"
                names.append(name)
                var o: [String: JSONValue] = ["id": .string("synthetic-\(i + 1)-\(p + 1)"), "name": .string(name),
                                              "role": .string("Human rights defender"), "status": .string(open ? "detained" : "released")]
                if let original = who.original, let language = who.language {
                    o["name_original"] = .string("\(original) \(i + 1)"); o["name_original_language"] = .string(language)
                }
                peopleJSON.append(.object(o))
            }
            let who = names.joined(separator: " and ")
            let official = "synthetic-official-\(rng.below(officials))"
            // Open actions' deadlines spread over the next eleven weeks (the home page's "deadlines
            // soon" has something to choose from); the rest a month after publication.
            let deadline = open ? Self.later(today, days: 5 + (i * 37) % 75) : Self.later(published, months: 1)
            let takeAction: JSONValue = .object([
                "deadline": .string(deadline), "preferred_languages": .array([.string("en")]),
                "targets": .array([.object(["target": .string(official)])]),
                "letter": .string("Dear Prosecutor General,\n\nI call on you to release \(who) immediately and unconditionally.\n\nYours sincerely,"),
            ])
            let sentences = 2 + rng.below(5)
            var documents: [JSONValue] = [.object([
                "id": .string("ua-\(slug)-0-en"), "sequence": .number(0), "kind": .string("initial"), "language": .string("en"),
                "published": .string(published), "title": .string("\(who): detained for peaceful activism"),
                "summary": .string("\(who) was detained on \(published) and is at risk of torture."),
                "body": .string(Array(repeating: "\(who) was detained for peaceful human rights work. Their family has not been told where they are held.",
                                      count: sentences).joined(separator: " ") + "\n\nThis is a synthetic case made for testing."),
                "take_action": takeAction,
            ])]
            if !country.title.isEmpty {
                documents.append(.object([
                    "id": .string("ua-\(slug)-0-\(country.language.lowercased())"), "sequence": .number(0), "kind": .string("initial"),
                    "language": .string(country.language), "translation_of": .string("ua-\(slug)-0-en"), "published": .string(published),
                    "title": .string(country.title), "body": .string(country.body), "take_action": takeAction,
                ]))
            }
            let updates = open ? rng.below(2) : 1 + rng.below(2)
            var sequence = 0
            var last = published
            for _ in 0..<updates {
                sequence += 1
                last = open ? min(Self.later(last, months: 1), today) : Self.later(last, months: 1)
                documents.append(.object([
                    "id": .string("ua-\(slug)-\(sequence)-en"), "sequence": .number(Double(sequence)), "kind": .string("update"),
                    "language": .string("en"), "published": .string(last), "title": .string("\(who): still detained"),
                    "body": .string("\(who) remains in detention. Please keep writing."),
                    "take_action": .object(["deadline": .string(open ? deadline : Self.later(last, months: 1)),
                                            "preferred_languages": .array([.string("en")]),
                                            "targets": .array([.object(["target": .string(official)])]),
                                            "letter": .string("Dear Prosecutor General,\n\nI urge you again to release \(who).\n\nYours sincerely,")]),
                ]))
            }
            if !open {
                sequence += 1
                last = Self.later(last, months: 1)
                documents.append(.object([
                    "id": .string("ua-\(slug)-\(sequence)-en"), "sequence": .number(Double(sequence)), "kind": .string("outcome"),
                    "outcome": .string(rng.pick(["good-news", "good-news", "mixed", "bad-news"])), "no_further_action": .bool(true),
                    "language": .string("en"), "published": .string(last), "title": .string("\(who): what happened"),
                    "body": .string("Thank you to everyone who wrote for \(who)."),
                ]))
            }
            cases.append(.object([
                "id": .string("synthetic-\(i + 1)"), "title": .string(who), "summary": .string("A synthetic case (\(i + 1) of \(n))."),
                "countries": .array([.string(country.code)]),
                "themes": .array(Array(Set([rng.pick(themes), rng.pick(themes)])).sorted().map { .string($0) }),
                "status": .string(open ? "open" : "closed"), "people": .array(peopleJSON),
                "timeline": .array([.object(["date": .string(published), "kind": .string("arrest"),
                                             "people": .array((1...personCount).map { .string("synthetic-\(i + 1)-\($0)") }),
                                             "summary": .string("Detained.")])]),
                "urgent_actions": .array([.object(["number": .string(number), "status": .string(open ? "open" : "closed"),
                                                   "documents": .array(documents)])]),
            ]))
        }
        return .object(["format": .string("vigil.bundle/1"), "targets": .array(targets), "cases": .array(cases)])
    }

    /// `date` (YYYY-MM-DD) plus `months` months (or minus), on the 28th at the latest.
    static func later(_ date: String, days: Int) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        guard let start = PartialDate(date)?.latest, let day = f.date(from: start) else { return date }
        return f.string(from: day.addingTimeInterval(TimeInterval(days) * 86_400))
    }

    static func later(_ date: String, months: Int) -> String {
        let parts = date.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return date }
        let total = parts[0] * 12 + (parts[1] - 1) + months
        return String(format: "%04d-%02d-%02d", total / 12, total % 12 + 1, min(parts[2], 28))
    }

    /// Anonymous action reports for the archive's original documents: none to eight each,
    /// through the same rows and counters as a supporter's report (so totals equal rows).
    static func addReports(seed: UInt64, on db: any Database) async throws -> Int {
        let sql = db as! any SQLDatabase
        let documents = try await sql.raw("""
            SELECT id FROM documents WHERE translation_of IS NULL AND has_take_action = \(bind: true) ORDER BY id
            """).all().map { try $0.decode(column: "id", as: String.self) }
        var rng = Random(state: seed ^ 0x5EED)
        let channels = ["letter", "email", "fax", "call", "social-post", "web-form"]
        var plan: [(document: String, channel: String, key: String)] = []
        for id in documents {
            for k in 0..<rng.below(9) { plan.append((id, rng.pick(channels), "synthetic-\(id)-\(k)")) }
        }
        let hour = ReportTime.stored(for: nil)
        for chunk in plan.chunks(of: 2_000) {
            try await db.writeTransaction { db in
                let sql = db as! any SQLDatabase
                for r in chunk {
                    try await sql.raw("""
                        INSERT INTO action_reports (id, document_id, target_id, channel, idempotency_key, supporter_id, created_at)
                        VALUES (\(bind: UUID()), \(bind: r.document), \(bind: String?.none), \(bind: r.channel), \(bind: r.key), \(bind: UUID?.none), \(bind: hour))
                        """).run()
                    try await ReportTotals.bump(document: r.document, channel: r.channel, by: 1, on: sql)
                }
            }
        }
        return plan.count
    }
}

extension SeededRandom {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
