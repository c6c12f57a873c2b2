import ALVProtocol
import ALVModel
import ALVTemplates
import CCurl

/// A request type ready for the hot path: templates compiled, constant headers prebuilt as a
/// curl list shared by every transfer, method and timeout resolved.
final class CompiledRequest {
    enum Method {
        case get, head, post
        /// PUT, PATCH, DELETE, OPTIONS: CURLOPT_CUSTOMREQUEST with this name.
        case custom(String)
    }

    let name: String
    let method: Method
    let urlPrefix: [UInt8]
    let url: CompiledTemplate
    let body: CompiledTemplate?
    /// Headers when none is templated; nil when they are built per request from `headerTemplates`.
    let constantHeaders: UnsafeMutablePointer<curl_slist>?
    let headerTemplates: [CompiledTemplate]
    let thinkTime: ThinkTime?
    let timeoutMs: Int
    /// Expectations and captures; nil when the step has none.
    let check: ResponseCheck?
    /// The request after this one in its flow (an index into the unit's requests), nil for the last step.
    var next: Int?

    /// - Parameters:
    ///   - request: one step (a single request type is its own step).
    ///   - name: where its metrics go (`TYPE/STEP` in a flow).
    ///   - thinkTime: the type's think time, after this request.
    init(_ request: FlowStep, name: String, thinkTime: ThinkTime?, baseURL: String, data: TemplateData, options: EngineOptions) throws {
        self.name = name
        switch request.method {
        case "GET": method = .get
        case "HEAD": method = .head
        case "POST": method = .post
        default: method = .custom(request.method)
        }
        let isAbsolute = request.url.hasPrefix("http://") || request.url.hasPrefix("https://")
        var prefix = isAbsolute ? "" : String(baseURL.reversed().drop { $0 == "/" }.reversed())
        if !isAbsolute && !request.url.hasPrefix("/") { prefix += "/" }
        urlPrefix = Array(prefix.utf8)
        url = try CompiledTemplate(source: request.url, escaping: .url, data: data)
        body = try request.payloadTemplate.map { try CompiledTemplate(source: $0, escaping: request.payloadEscaping, data: data) }
        self.thinkTime = thinkTime
        timeoutMs = Int(request.timeoutMs ?? Double(options.requestTimeoutMs))
        check = request.isChecked ? try ResponseCheck(request, data: data) : nil

        // "Expect:" (empty) stops curl from waiting for 100-continue before sending a body.
        var lines = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        if request.payloadTemplate != nil { lines.append("Expect:") }
        let templates = try lines.map { try CompiledTemplate(source: $0, escaping: .header, data: data) }
        if templates.allSatisfy(\.isConstant) {
            var list: UnsafeMutablePointer<curl_slist>? = nil
            for line in lines { list = curl_slist_append(list, line) }
            constantHeaders = list
            headerTemplates = []
        } else {
            constantHeaders = nil
            headerTemplates = templates
        }
        isConstant = url.isConstant && body == nil && headerTemplates.isEmpty
    }

    deinit {
        if let constantHeaders { curl_slist_free_all(constantHeaders) }
    }

    /// Nothing in the request is templated: a handle set up for it once needs nothing more.
    let isConstant: Bool

    /// Sets URL, method, headers, body and timeout of `transfer` for one request (nothing at all when the
    /// handle's last request was this same constant one: libcurl keeps a handle's options, and setting the
    /// URL again would copy it).
    func prepare(_ transfer: Transfer, context: inout RenderContext, scratch: inout [UInt8]) {
        if transfer.preparedFor === self && isConstant { return }
        transfer.preparedFor = self
        let handle = transfer.handle
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: urlPrefix)
        url.render(into: &scratch, context: &context)
        transfer.url.removeAll(keepingCapacity: true)
        transfer.url.append(contentsOf: scratch)
        scratch.append(0)
        scratch.withUnsafeBufferPointer { _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_URL, $0.baseAddress) }

        transfer.freeOwnedHeaders()
        if headerTemplates.isEmpty {
            alv_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, constantHeaders)
        } else {
            var list: UnsafeMutablePointer<curl_slist>? = nil
            for template in headerTemplates {
                scratch.removeAll(keepingCapacity: true)
                template.render(into: &scratch, context: &context)
                scratch.append(0)
                list = scratch.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { curl_slist_append(list, $0.baseAddress) }
                }
            }
            transfer.ownedHeaders = list
            alv_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        }

        // Reset what an earlier request of another type may have set on this handle.
        alv_curl_easy_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, nil)
        alv_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 0)
        alv_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
        if let body {
            scratch.removeAll(keepingCapacity: true)
            body.render(into: &scratch, context: &context)
            transfer.setBody(scratch)
            alv_curl_easy_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(transfer.bodyLength))
            alv_curl_easy_setopt_ptr(handle, CURLOPT_POSTFIELDS, transfer.body.baseAddress)
        } else {
            transfer.setBody([])
        }
        switch method {
        case .get: break
        case .head: alv_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1)
        case .post:
            if body == nil {
                alv_curl_easy_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0)
                alv_curl_easy_setopt_ptr(handle, CURLOPT_POSTFIELDS, transfer.body.baseAddress)
            }
        case .custom(let name):
            name.withCString { _ = alv_curl_easy_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, $0) }
        }
        alv_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMs)
    }

    /// Nanoseconds this request type's virtual user pauses after a response.
    @inline(__always)
    func thinkNanos(_ random: inout SeededGenerator) -> UInt64 {
        switch thinkTime {
        case nil: return 0
        case .fixed(let ms): return UInt64(ms * 1e6)
        case .range(let lo, let hi): return UInt64((lo + (hi - lo) * random.nextUnit()) * 1e6)
        }
    }
}
