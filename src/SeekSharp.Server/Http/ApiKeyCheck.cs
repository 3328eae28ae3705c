using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>
/// With --api-key, every request but /health must send "Authorization: Bearer KEY". The key is compared in constant
/// time: both sides are hashed (SHA-256, so their lengths do not show either) and the hashes compared with
/// <see cref="CryptographicOperations.FixedTimeEquals"/>.
/// </summary>
internal sealed class ApiKeyCheck(string key)
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public void Require(HttpContext http)
    {
        string header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.Length == 0)
            throw new ApiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code: "missing_api_key");
        string given = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : "";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        if (!CryptographicOperations.FixedTimeEquals(hash, _expected))
            throw new ApiError(401, "Incorrect API key provided.", code: "invalid_api_key");
    }
}
