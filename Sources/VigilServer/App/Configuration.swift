import Foundation
import VigilCore

/// Everything an operator can set, read once from the environment, with laptop defaults.
public struct VigilConfiguration: Sendable {
    public enum Storage: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    public var storage: Storage
    /// Public origin used in links, feeds and mail.
    public var baseURL: String
    /// `VIGIL_BASE_URL` is not set: `vigil serve` puts its own host and port in `baseURL` (`BaseURLResolution`).
    public var baseURLFollowsServer: Bool = false
    public var smtpURL: String?
    /// A sendmail-compatible program to pipe mail to, instead of SMTP.
    public var sendmailPath: String?
    public var mailFrom: String
    /// Where bounces and complaints come back (`VIGIL_MAIL_BOUNCE_ADDRESS`): mail goes out with the
    /// envelope sender `local+TAG@domain`, and `vigil mail bounce` reads what arrives (`Bounces`).
    public var bounceAddress: String?
    public var viewsDirectory: String?
    public var trustedProxies: [String]
    /// Served behind TLS: secure cookies and HSTS.
    public var tls: Bool
    /// Largest request body the API accepts.
    public var maxBodyBytes: Int
    /// Keep rendered public pages in memory (off only for debugging templates).
    public var pageCache: Bool = true
    /// Answer page-cache hits in the connection, before Vapor (`VIGIL_FAST_PATH=0` turns it off;
    /// also off with `LOG_LEVEL=debug`, which logs every request). See `FastPath.swift`.
    public var fastPath: Bool = true
    /// Action reports older than this many months become anonymous (0: never).
    public var reportRetentionMonths: Int = 24
    /// The development mail viewer at `/dev/outbox` (`VIGIL_DEV_OUTBOX=1`): only without a mail
    /// transport, and only for loopback clients that came through no proxy.
    public var devOutbox: Bool = false
    /// Largest body of an HTML form post (log-in, sign-up, reports…): forms need kilobytes.
    public var maxFormBytes: Int = 64 * 1024
    /// Most addresses in one sitemap file; beyond it `/sitemap.xml` becomes an index of
    /// `/sitemap.xml?part=N` files. The protocol allows 50,000, but each address carries its
    /// alternates in every language (about 600 bytes with five): 10,000 keep a file near 6 MB,
    /// which the page cache holds without crowding out pages. Lowered further only by tests.
    public var sitemapURLsPerFile: Int = 10_000
    /// Most messages handed to the mail relay a minute, across all processes (`VIGIL_MAIL_PER_MINUTE`):
    /// an outcome mailed to tens of thousands goes out at a pace the relay and the receiving
    /// providers accept.
    public var mailPerMinute: Int = 600
    /// Days an API token lives (`VIGIL_TOKEN_DAYS`).
    public var tokenLifetimeDays: Int = 90
    /// Most urgent actions in one letter-writing pack.
    public var maxPackActions: Int = 40
    /// Variables passed to the sendmail program besides the minimal set (`VIGIL_SENDMAIL_ENV`).
    public var sendmailEnvironment: [String] = []
    /// PostgreSQL schemas to use instead of the server's default (tests give each run its own).
    public var postgresSearchPath: [String]?
    /// Bytes of rendered pages, feeds and documents kept in memory (`VIGIL_CACHE_MB`).
    public var cacheBytes: Int = 128 * 1024 * 1024
    /// The organisation's time zone (`VIGIL_TIME_ZONE`, an IANA name): a deadline ends at the end
    /// of its day there.
    public var timeZone: TimeZone = TimeZone(identifier: "UTC")!
    /// `VIGIL_TODAY=2026-11-30`: read deadlines as on that date (tests and demos only).
    public var fixedToday: String?
    /// The organisation's working languages (`VIGIL_LANGUAGES`, e.g. `en,es,fr,ar,ru`): those with
    /// a catalogue are offered in the interface, and the newsroom lists documents that lack a
    /// translation into one of them. Unset: every catalogue in `Resources/Locales`.
    public var workingLanguages: [String]?
    /// The language of a visitor nothing else tells about (`VIGIL_DEFAULT_LANGUAGE`); unset:
    /// English when offered, else the first of `VIGIL_LANGUAGES`.
    public var defaultLanguage: String?
    /// `VIGIL_PSEUDO_LOCALE=1`: the site also speaks `en-XA`, its default, in which every catalogue
    /// string is accented and 40% longer, so that untranslated text and layouts that break on long
    /// words show at a glance (for translators and developers, never on a served site).
    public var pseudoLocale = false
    /// bcrypt's cost for new password hashes (`VIGIL_PASSWORD_COST`, 4 to 14: at 14 a log-in costs a second of CPU): 12 by default; a
    /// stronger server may raise it. Below 10 the hashes are weak, and `serve` says so at every
    /// start: that is for test runs that make thousands of accounts (the hostile-input proof),
    /// never for a served site. Hashes keep the cost they were made with; each still verifies, and is made again at the
    /// configured cost at its owner's next log-in.
    public var passwordCost: Int = 12
    /// How long a request waits for a PostgreSQL connection before it fails. 30 s when served;
    /// the test suite, which runs hundreds of applications at once on two cores, waits longer.
    public var databasePoolTimeoutSeconds: Int64 = 30
    /// Where `vigil serve` answers `GET /metrics` (`VIGIL_METRICS_ADDRESS`, `host:port`); nil: nowhere.
    public var metricsAddress: MetricsAddress?
    /// `text` (the console's lines) or `json` (one JSON object a line), `VIGIL_LOG_FORMAT`.
    public var logFormat: LogFormat = .text

    public init(storage: Storage = .sqlite(path: "./vigil.sqlite"), baseURL: String = "http://127.0.0.1:8080",
                smtpURL: String? = nil, mailFrom: String = "Vigil <vigil@localhost>", viewsDirectory: String? = nil,
                trustedProxies: [String] = [], tls: Bool = false, maxBodyBytes: Int = 8 * 1024 * 1024) {
        self.storage = storage; self.baseURL = baseURL; self.smtpURL = smtpURL; self.mailFrom = mailFrom
        self.viewsDirectory = viewsDirectory; self.trustedProxies = trustedProxies; self.tls = tls
        self.maxBodyBytes = maxBodyBytes
    }

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads `DATABASE_URL`, `VIGIL_DATABASE_PATH`, `VIGIL_BASE_URL`, `VIGIL_SMTP_URL`, `VIGIL_SENDMAIL`, `VIGIL_MAIL_FROM`,
    /// `VIGIL_VIEWS`, `VIGIL_TRUSTED_PROXIES`, `VIGIL_TLS`, `VIGIL_MAX_BODY_BYTES`, `VIGIL_METRICS_ADDRESS`, `VIGIL_LOG_FORMAT`…
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> VigilConfiguration {
        var c = VigilConfiguration()
        func value(_ key: String) -> String? {
            guard let v = env[key]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let url = value("DATABASE_URL") {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), URL(string: url)?.host != nil else {
                throw Problem(description: "DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/database)")
            }
            c.storage = .postgres(url: url)
        } else if let path = value("VIGIL_DATABASE_PATH") {
            c.storage = .sqlite(path: path)
        }
        if let base = value("VIGIL_BASE_URL") {
            guard let u = URL(string: base), u.scheme == "http" || u.scheme == "https", u.host != nil else {
                throw Problem(description: "VIGIL_BASE_URL must be an http(s) origin like https://ua.example.org")
            }
            c.baseURL = base.hasSuffix("/") ? String(base.dropLast()) : base
        } else {
            c.baseURLFollowsServer = true
        }
        if let smtp = value("VIGIL_SMTP_URL") {
            guard smtp.hasPrefix("smtp://") || smtp.hasPrefix("smtps://") else {
                throw Problem(description: "VIGIL_SMTP_URL must start with smtp:// or smtps://")
            }
            c.smtpURL = smtp
        }
        if let sendmail = value("VIGIL_SENDMAIL") {
            guard c.smtpURL == nil else {
                throw Problem(description: "Set VIGIL_SMTP_URL or VIGIL_SENDMAIL, not both: mail goes one way.")
            }
            guard sendmail.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: sendmail) else {
                throw Problem(description: "VIGIL_SENDMAIL must be the absolute path of an executable sendmail-compatible program (like /usr/sbin/sendmail); \(sendmail) is not.")
            }
            c.sendmailPath = sendmail
        }
        if let names = value("VIGIL_SENDMAIL_ENV") {
            let list = names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if let bad = list.first(where: { SendmailTransport.neverPassed.contains($0) }) {
                throw Problem(description: "VIGIL_SENDMAIL_ENV may not pass \(bad) to the mail program.")
            }
            c.sendmailEnvironment = list
        }
        if let from = value("VIGIL_MAIL_FROM") { c.mailFrom = from }
        if let bounce = value("VIGIL_MAIL_BOUNCE_ADDRESS") {
            let parts = bounce.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[0].contains("+"), bounce.utf8.count <= 200,
                  bounce.allSatisfy({ $0.isASCII && !$0.isWhitespace && !"<>()[]\\,;:\"".contains($0) }) else {
                throw Problem(description: "VIGIL_MAIL_BOUNCE_ADDRESS must be a plain address such as bounces@example.org (no '+', no name)")
            }
            c.bounceAddress = bounce
        }
        c.viewsDirectory = value("VIGIL_VIEWS")
        c.trustedProxies = value("VIGIL_TRUSTED_PROXIES")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        func flag(_ key: String) throws -> Bool? {
            guard let v = value(key) else { return nil }
            switch v.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw Problem(description: "\(key) must be true or false")
            }
        }
        // Served over https: secure cookies and HSTS, whether or not VIGIL_TLS says so
        // (VIGIL_TLS=false cannot switch them off for an https origin).
        c.tls = try flag("VIGIL_TLS") ?? false
        if c.baseURL.hasPrefix("https://") { c.tls = true }
        if try flag("VIGIL_DEV_OUTBOX") == true {
            guard c.smtpURL == nil, c.sendmailPath == nil else {
                throw Problem(description: "VIGIL_DEV_OUTBOX shows queued mail in the browser and is only for a laptop without a mail transport; unset it when VIGIL_SMTP_URL or VIGIL_SENDMAIL is set.")
            }
            c.devOutbox = true
        }
        if let days = value("VIGIL_TOKEN_DAYS") {
            guard let n = Int(days), (1...3650).contains(n) else {
                throw Problem(description: "VIGIL_TOKEN_DAYS must be a number of days from 1 to 3650")
            }
            c.tokenLifetimeDays = n
        }
        if let fast = try flag("VIGIL_FAST_PATH") { c.fastPath = fast }
        if let mb = value("VIGIL_CACHE_MB") {
            guard let n = Int(mb), (1...65536).contains(n) else {
                throw Problem(description: "VIGIL_CACHE_MB must be a number of megabytes from 1 to 65536")
            }
            c.cacheBytes = n * 1024 * 1024
        }
        if let zone = value("VIGIL_TIME_ZONE") {
            guard let tz = ActionClock.zone(named: zone) else {
                throw Problem(description: "VIGIL_TIME_ZONE must be an IANA time zone name like Europe/London or America/Bogota; \(zone.prefix(64)) is not.")
            }
            c.timeZone = tz
        }
        if let today = value("VIGIL_TODAY") {
            guard let d = PartialDate(today), d.precision == .day else {
                throw Problem(description: "VIGIL_TODAY must be a date like 2026-11-30 (it is for tests and demos only).")
            }
            c.fixedToday = d.description
        }
        if let list = value("VIGIL_LANGUAGES") {
            let tags = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if tags.isEmpty || tags.count > 50 {
                throw Problem(description: "VIGIL_LANGUAGES must list the working languages as language tags separated by commas, like en,es,fr,ar,ru.")
            }
            for tag in tags where LanguageTag.problem(tag) != nil {
                throw Problem(description: "VIGIL_LANGUAGES: \(tag.prefix(20)) is not a language tag (like en, es, fr, ar, ru or pt-BR).")
            }
            var seen: [String] = []
            for tag in tags where !seen.contains(tag) { seen.append(tag) }
            c.workingLanguages = seen
        }
        if let flag = value("VIGIL_PSEUDO_LOCALE") {
            guard flag == "1" || flag == "0" else { throw Problem(description: "VIGIL_PSEUDO_LOCALE must be 1 (on) or 0 (off).") }
            c.pseudoLocale = flag == "1"
        }
        if let tag = value("VIGIL_DEFAULT_LANGUAGE") {
            guard LanguageTag.problem(tag) == nil else {
                throw Problem(description: "VIGIL_DEFAULT_LANGUAGE: \(tag.prefix(20)) is not a language tag (like en, es, fr, ar or ru).")
            }
            c.defaultLanguage = tag
        }
        if let months = value("VIGIL_REPORT_RETENTION_MONTHS") {
            guard let n = Int(months), (0...600).contains(n) else {
                throw Problem(description: "VIGIL_REPORT_RETENTION_MONTHS must be a number of months (0 keeps reports linked)")
            }
            c.reportRetentionMonths = n
        }
        if let address = value("VIGIL_METRICS_ADDRESS") {
            guard let parsed = MetricsAddress(address) else {
                throw Problem(description: "VIGIL_METRICS_ADDRESS must be host:port, like 127.0.0.1:9464 or [::1]:9464; \(address.prefix(80)) is not.")
            }
            c.metricsAddress = parsed
        }
        if let format = value("VIGIL_LOG_FORMAT") {
            guard let f = LogFormat(rawValue: format.lowercased()) else {
                throw Problem(description: "VIGIL_LOG_FORMAT must be text or json")
            }
            c.logFormat = f
        }
        if let rate = value("VIGIL_MAIL_PER_MINUTE") {
            guard let n = Int(rate), (1...100_000).contains(n) else {
                throw Problem(description: "VIGIL_MAIL_PER_MINUTE must be a number of messages from 1 to 100000")
            }
            c.mailPerMinute = n
        }
        if let cost = value("VIGIL_PASSWORD_COST") {
            guard let n = Int(cost), (4...14).contains(n) else {
                throw Problem(description: "VIGIL_PASSWORD_COST must be bcrypt's cost, a number from 4 to 14 (default 12; under 10 for tests only)")
            }
            c.passwordCost = n
        }
        if let max = value("VIGIL_MAX_BODY_BYTES") {
            guard let n = Int(max), n >= 1024 else { throw Problem(description: "VIGIL_MAX_BODY_BYTES must be a number of bytes (at least 1024)") }
            c.maxBodyBytes = n
        }
        return c
    }

    /// A description safe for logs: no passwords.
    public var storageDescription: String {
        switch storage {
        case .sqlite(let path): return "SQLite at \(path)"
        case .postgres(let url):
            guard var comps = URLComponents(string: url) else { return "PostgreSQL" }
            comps.password = comps.password == nil ? nil : "***"
            return "PostgreSQL at \(comps.host ?? "?")\(comps.port.map { ":\($0)" } ?? "")\(comps.path)"
        }
    }
}

/// `VIGIL_METRICS_ADDRESS`: a host (a name, an IPv4 address, or an IPv6 address in brackets)
/// and a port.
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            host = parts[0]; port = parts[1]
            guard host.utf8.count <= 253, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }),
                  !host.hasPrefix("-"), !host.hasPrefix(".") else { return nil }
        }
        guard !host.isEmpty, !port.isEmpty, port.utf8.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Int(port), (1...65535).contains(n) else { return nil }
        self.host = String(host)
        self.port = n
    }

    /// `localhost`, `127.0.0.0/8` or `::1`: reachable from this machine only.
    public var isLoopback: Bool {
        if host.lowercased() == "localhost" { return true }
        if host.hasPrefix("127.") { return host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil } }
        return ClientAddress.normalise(host) == "::1"
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
