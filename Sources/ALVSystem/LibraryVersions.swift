import CCurl
import CSQLite
import CZmq

/// Versions and capabilities of the C libraries alv is linked against, for `alv --version` and
/// for refusing early when a needed feature (CURVE, HTTP/2) is missing.
public enum LibraryVersions {
    public static var curl: String { String(cString: alv_curl_version_string()) }
    public static var curlHasHTTP2: Bool { alv_curl_has_http2() != 0 }

    public static var zmq: String {
        let packed = alv_zmq_version()
        return "\(packed / 10000).\(packed / 100 % 100).\(packed % 100)"
    }

    /// Whether libzmq was built with CURVE encryption and authentication.
    public static var zmqHasCurve: Bool { zmq_has("curve") == 1 }

    public static var sqlite: String { String(cString: sqlite3_libversion()) }

    /// One line per library, as `alv --version` prints them.
    public static var summary: String {
        """
        libcurl \(curl)\(curlHasHTTP2 ? " (HTTP/2)" : "")
        libzmq \(zmq)\(zmqHasCurve ? " (CURVE)" : " (no CURVE)")
        sqlite \(sqlite)
        """
    }
}
