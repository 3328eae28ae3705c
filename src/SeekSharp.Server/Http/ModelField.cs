using System.Text.Json;

namespace SeekSharp.Server.Http;

/// <summary>A request's "model": absent means the served model; any other name than its id is a 404.</summary>
internal static class ModelField
{
    public static void Check(JsonElement root, ServedModel model)
    {
        var name = JsonFields.String(root, "model");
        if (name is not null && name != model.Id) throw NotFound(name);
    }

    public static ApiError NotFound(string name) =>
        new(404, $"The model '{name}' does not exist or you do not have access to it.", param: "model", code: "model_not_found");
}
