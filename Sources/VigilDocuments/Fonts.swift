import CPangoCairo
import VigilCore

/// The fonts that Pango (through fontconfig) can use to set documents. The PDF and DOCX
/// renderers of urgent actions build on this target; for now it answers which scripts the
/// machine can set, so that the server can warn an operator before a document comes out
/// with missing glyphs.
public enum FontCatalog {
    /// Names of the font families Pango finds, sorted.
    public static func families() -> [String] {
        guard let map = pango_cairo_font_map_get_default() else { return [] }
        var families: UnsafeMutablePointer<UnsafeMutablePointer<PangoFontFamily>?>?
        var count: Int32 = 0
        pango_font_map_list_families(map, &families, &count)
        guard let families else { return [] }
        defer { g_free(families) }
        var names: [String] = []
        for i in 0..<Int(count) {
            if let family = families[i], let name = pango_font_family_get_name(family) {
                names.append(String(cString: name))
            }
        }
        return names.sorted()
    }

    /// Whether a family whose name starts with `prefix` (e.g. "Noto Sans Arabic") is installed.
    public static func has(_ prefix: String) -> Bool {
        families().contains { $0.hasPrefix(prefix) }
    }

    /// The Pango version the renderers are built against, e.g. "1.50.12".
    public static var pangoVersion: String {
        String(cString: pango_version_string())
    }
}
