import Foundation

/// Everything an operator can set, read once from the environment, with laptop defaults.
public struct VigilConfiguration: Sendable {
    public enum Storage: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    public var storage: Storage
    /// Public origin used in links, feeds and mail.
    public var baseURL: String
    public var smtpURL: String?
    /// A sendmail-compatible program to pipe mail to, instead of SMTP.
    public var sendmailPath: String?
    public var mailFrom: String
    public var viewsDirectory: String?
    public var trustedProxies: [String]
    /// Served behind TLS: secure cookies and HSTS.
    public var tls: Bool
    /// Largest request body the API accepts.
    public var maxBodyBytes: Int
    /// Keep rendered public pages in memory (off only for debugging templates).
    public var pageCache: Bool = true
    /// Action reports older than this many months become anonymous (0: never).
    public var reportRetentionMonths: Int = 24

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
    /// `VIGIL_VIEWS`, `VIGIL_TRUSTED_PROXIES`, `VIGIL_TLS`, `VIGIL_MAX_BODY_BYTES`.
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
        if let from = value("VIGIL_MAIL_FROM") { c.mailFrom = from }
        c.viewsDirectory = value("VIGIL_VIEWS")
        c.trustedProxies = value("VIGIL_TRUSTED_PROXIES")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        if let tls = value("VIGIL_TLS") {
            switch tls.lowercased() {
            case "1", "true", "yes", "on": c.tls = true
            case "0", "false", "no", "off": c.tls = false
            default: throw Problem(description: "VIGIL_TLS must be true or false")
            }
        }
        if let months = value("VIGIL_REPORT_RETENTION_MONTHS") {
            guard let n = Int(months), (0...600).contains(n) else {
                throw Problem(description: "VIGIL_REPORT_RETENTION_MONTHS must be a number of months (0 keeps reports linked)")
            }
            c.reportRetentionMonths = n
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
