import Foundation
import Vapor

#if canImport(Glibc)
import Glibc
#endif

/// The client's address: the peer, or — only when the peer is a configured trusted proxy — the
/// right-most address of `X-Forwarded-For` that is not a trusted proxy. Every `X-Forwarded-For`
/// line counts, in order: a proxy that appends a line of its own instead of extending the first
/// must not let the client choose the address that the first line claims.
func clientIP(_ req: Request, trustedProxies: [String]) -> String {
    let peer = ClientAddress.normalise(req.remoteAddress?.ipAddress ?? "unknown")
    let trusted = Set(trustedProxies.map(ClientAddress.normalise))
    guard trusted.contains(peer) else { return peer }
    let hops = req.headers["X-Forwarded-For"].flatMap { $0.split(separator: ",") }
        .map { ClientAddress.normalise($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
    return hops.reversed().first { !trusted.contains($0) } ?? peer
}

/// The key under which a client is rate-limited: its IPv4 address, or the /64 network of its
/// IPv6 address (one subscriber usually holds a whole /64 and can pick any address in it).
func clientRateAddress(_ req: Request, trustedProxies: [String]) -> String {
    ClientAddress.rateKey(clientIP(req, trustedProxies: trustedProxies))
}

enum ClientAddress {
    /// One spelling per address: IPv6 in its canonical form, IPv4-mapped IPv6 as IPv4,
    /// brackets and zone ids dropped. Anything that is not an address is returned trimmed.
    static func normalise(_ raw: String) -> String {
        var s = raw.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("["), let end = s.firstIndex(of: "]") { s = String(s[s.index(after: s.startIndex)..<end]) }
        if let zone = s.firstIndex(of: "%") { s = String(s[..<zone]) }
        if let bytes = ipv6Bytes(s) {
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return bytes[12..<16].map(String.init).joined(separator: ".")
            }
            return format(bytes)
        }
        return s
    }

    static func rateKey(_ address: String) -> String {
        guard address.contains(":"), var bytes = ipv6Bytes(address) else { return address }
        for i in 8..<16 { bytes[i] = 0 }
        return format(bytes) + "/64"
    }

    static func ipv6Bytes(_ s: String) -> [UInt8]? {
        guard s.contains(":"), s.utf8.count < 64 else { return nil }
        var addr = in6_addr()
        guard inet_pton(AF_INET6, s, &addr) == 1 else { return nil }
        return withUnsafeBytes(of: &addr) { Array($0) }
    }

    static func format(_ bytes: [UInt8]) -> String {
        var addr = in6_addr()
        withUnsafeMutableBytes(of: &addr) { raw in for i in 0..<16 { raw[i] = bytes[i] } }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        return String(cString: buffer)
    }
}
