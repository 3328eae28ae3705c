using Microsoft.AspNetCore.Http;

namespace SeekSharp.Server.Http;

/// <summary>GET /v1/models (the one served model) and GET /v1/models/{id} (it, or 404).</summary>
internal static class ModelsEndpoint
{
    public static Task ListAsync(HttpContext http, ModelHost host)
    {
        var (model, _) = host.Require();
        return Json.WriteAsync(http, 200, new { @object = "list", data = new[] { Describe(model) } });
    }

    public static Task GetAsync(HttpContext http, ModelHost host)
    {
        var (model, _) = host.Require();
        string id = http.Request.RouteValues["id"] as string ?? "";
        return id == model.Id ? Json.WriteAsync(http, 200, Describe(model)) : throw ModelField.NotFound(id);
    }

    private static object Describe(ServedModel model) => new
    {
        id = model.Id,
        @object = "model",
        created = model.Created,
        owned_by = "seeksharp",
        max_model_len = model.Context,
    };
}
