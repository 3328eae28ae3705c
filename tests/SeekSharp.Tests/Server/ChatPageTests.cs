using System.Net;
using System.Net.Http.Headers;
using Xunit;

namespace SeekSharp.Tests.Server;

/// <summary>The chat page's files as a browser fetches them: served at /, /chat.css, /chat.js without the API key, which the API still requires.</summary>
public class ChatPageTests
{
    [Fact]
    public async Task PageIsServedWithoutTheApiKeyWhileTheApiStillNeedsIt()
    {
        await using var server = await TestServer.StartAsync(o => o with { ApiKey = "sk-page-test" });
        using var page = await server.Http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/chat.js\"", html);
        Assert.Contains("<link rel=\"stylesheet\" href=\"/chat.css\">", html);
        Assert.DoesNotContain("https://", html);                       // no CDN: everything comes from this server

        using var css = await server.Http.GetAsync("chat.css");
        Assert.Equal("text/css", css.Content.Headers.ContentType!.MediaType);
        using var js = await server.Http.GetAsync("chat.js");
        Assert.Equal("text/javascript", js.Content.Headers.ContentType!.MediaType);
        Assert.Contains("/v1/chat/completions", await js.Content.ReadAsStringAsync());

        // Revalidation: the same ETag answers 304.
        var request = new HttpRequestMessage(HttpMethod.Get, "chat.js");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(js.Headers.ETag!.ToString()));
        using var again = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);

        using var api = await server.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 1 });
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using var other = await server.Http.GetAsync("index.html");   // only the page's own paths are open
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
    }

    [Fact]
    public async Task PostToThePageIsNotAllowed()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.PostAsync("", "{}");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }
}
