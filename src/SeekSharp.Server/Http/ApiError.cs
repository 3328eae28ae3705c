namespace SeekSharp.Server.Http;

/// <summary>
/// A request the server answers with an error in OpenAI's shape, <c>{"error": {"message", "type", "param", "code"}}</c>,
/// and an HTTP status: 400 bad input, 401 no or wrong key, 404 unknown model or URL, 413 body too large, 429 queue
/// full, 503 loading or stopping, 504 past the request timeout.
/// </summary>
public sealed class ApiError : SeekSharpException
{
    public ApiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
        : base(message)
    {
        Status = status;
        Type = type;
        Param = param;
        Code = code;
    }

    public int Status { get; }
    public string Type { get; }
    public string? Param { get; }
    public string? Code { get; }

    /// <summary>Seconds for a Retry-After header (429, 503), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>The JSON body.</summary>
    public object Body => new { error = new { message = Message, type = Type, param = Param, code = Code } };

    public static ApiError BadRequest(string message, string? param = null, string? code = null) => new(400, message, param: param, code: code);
}
