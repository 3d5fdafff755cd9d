using System.Collections.Immutable;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Pasar.Server.Platform;

namespace Pasar.Server.Web;

internal sealed class WebOptions
{
    public const string Section = "Pasar:Web";

    /// <summary>The built web app (Vite's output); empty means <c>wwwroot/dist</c> beside the content root or the server binary.</summary>
    public string? Root { get; set; }
}

/// <summary>
/// Serves the web app that <c>web/</c> builds into <c>wwwroot/dist</c>: hashed assets cached for a year and sent
/// pre-compressed, and <c>index.html</c> for the app's own pages. Only the app's routes fall back to the page,
/// so an unknown <c>/api/…</c> stays a 404 problem.
/// </summary>
internal static class WebModule
{
    /// <summary>The pages of the app (SPEC §9); each answers with the same index.html and the app routes in the browser.</summary>
    public static readonly ImmutableArray<string> Pages = ["/", "/live/{id}", "/p/{id}", "/seller/{id}", "/me", "/studio", "/auth/callback"];

    private const string AssetsPrefix = "/assets/";

    // The app loads only its own scripts; media and workers may be blob: URLs (hls.js), images may come from
    // product image hosts. Chat and product text are rendered as text, and this is the second line of defence.
    // The sign-in provider (Pasar:Auth:Authority), when there is one, is the only other origin the app may call:
    // it reads the provider's discovery document and trades the sign-in code at its token endpoint.
    private static string ContentSecurityPolicy(string? authority) =>
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data: blob:; media-src 'self' blob:; " +
        $"worker-src 'self' blob:; connect-src 'self' ws: wss:{(Uri.TryCreate(authority, UriKind.Absolute, out var a) ? " " + a.GetLeftPart(UriPartial.Authority) : "")}; " +
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'";

    public static IHostApplicationBuilder AddWeb(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebOptions>().BindConfiguration(WebOptions.Section);
        builder.Services.AddSingleton<WebAppFiles>();
        return builder;
    }

    /// <summary>The static-file middleware for the built app; it runs after the platform's (edge, auth, rate limits).</summary>
    public static WebApplication UseWeb(this WebApplication app)
    {
        var files = app.Services.GetRequiredService<WebAppFiles>();
        if (files.Root is { } root)
        {
            var policy = ContentSecurityPolicy(app.Services.GetRequiredService<IOptions<PasarOptions>>().Value.Auth.Authority);
            var provider = new PhysicalFileProvider(root);
            app.Use((context, next) => ServePrecompressed(context, next, provider));
            var types = new FileExtensionContentTypeProvider();
            types.Mappings[".br"] = "application/octet-stream";
            types.Mappings[".gz"] = "application/octet-stream";
            app.UseStaticFiles(new StaticFileOptions
            {
                FileProvider = provider,
                ContentTypeProvider = types,
                OnPrepareResponse = ctx => PrepareAsset(ctx, types, policy),
            });
        }
        else
        {
            app.Logger.LogWarning("The web app is not built, so the pages show how to build it; the API works. Build it with: cd web && npm ci && npm run build");
        }

        return app;
    }

    public static IEndpointRouteBuilder MapWeb(this IEndpointRouteBuilder app)
    {
        foreach (var page in Pages)
        {
            app.MapGet(page, (HttpContext context, WebAppFiles web, IOptions<PasarOptions> options) => ServeIndex(context, web, options.Value.Auth.Authority))
                .AllowAnonymous()
                .ExcludeFromDescription();
        }

        return app;
    }

    private static IResult ServeIndex(HttpContext context, WebAppFiles web, string? authority)
    {
        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.ContentSecurityPolicy = ContentSecurityPolicy(authority);
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
        return web.IndexFile is { } index
            ? TypedResults.PhysicalFile(index, "text/html; charset=utf-8")
            : TypedResults.Content(WebAppFiles.NotBuiltPage, "text/html; charset=utf-8", statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Sends <c>x.js.br</c> or <c>x.js.gz</c> for <c>x.js</c> when the browser accepts it and the build wrote it.</summary>
    private static Task ServePrecompressed(HttpContext context, RequestDelegate next, IFileProvider provider)
    {
        var path = context.Request.Path.Value;
        var method = context.Request.Method;
        if (path is null || !path.StartsWith(AssetsPrefix, StringComparison.Ordinal) || !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method)))
        {
            return next(context);
        }

        var accept = context.Request.Headers.AcceptEncoding.ToString();
        foreach (var (encoding, suffix) in (ReadOnlySpan<(string, string)>)[("br", ".br"), ("gzip", ".gz")])
        {
            if (accept.Contains(encoding, StringComparison.OrdinalIgnoreCase) && provider.GetFileInfo(path + suffix).Exists)
            {
                context.Request.Path = path + suffix;
                context.Response.Headers.ContentEncoding = encoding;
                break;
            }
        }

        context.Response.Headers.Vary = HeaderNames.AcceptEncoding;
        return next(context);
    }

    private static void PrepareAsset(StaticFileResponseContext ctx, FileExtensionContentTypeProvider types, string policy)
    {
        var name = ctx.File.Name;
        if (name.EndsWith(".br", StringComparison.Ordinal) || name.EndsWith(".gz", StringComparison.Ordinal))
        {
            if (types.TryGetContentType(name[..^3], out var type))
            {
                ctx.Context.Response.ContentType = type;
            }
        }

        ctx.Context.Response.Headers.XContentTypeOptions = "nosniff";
        if (name.Contains(".html", StringComparison.Ordinal))
        {
            // A page fetched by its file name (/index.html) instead of an app route gets the same policy.
            ctx.Context.Response.Headers.ContentSecurityPolicy = policy;
        }

        // Vite puts a content hash in every asset name, so an asset never changes under its name.
        ctx.Context.Response.Headers.CacheControl = ctx.Context.Request.Path.StartsWithSegments("/assets", StringComparison.Ordinal)
            ? "public, max-age=31536000, immutable"
            : "no-cache";
    }
}

/// <summary>Where the built web app is, decided once at start.</summary>
internal sealed class WebAppFiles
{
    public WebAppFiles(IOptions<WebOptions> options, IWebHostEnvironment env)
    {
        var candidates = string.IsNullOrWhiteSpace(options.Value.Root)
            ? new[] { Path.Combine(env.ContentRootPath, "wwwroot", "dist"), Path.Combine(AppContext.BaseDirectory, "wwwroot", "dist") }
            : [Path.GetFullPath(options.Value.Root, env.ContentRootPath)];
        Root = candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, "index.html")));
        IndexFile = Root is null ? null : Path.Combine(Root, "index.html");
    }

    public string? Root { get; }

    public string? IndexFile { get; }

    public const string NotBuiltPage = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Pasar: web app not built</title></head><body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem">
        <h1>The web app is not built yet</h1>
        <p><code>dotnet run --project src/Pasar.Server</code> builds it when Node.js and npm are installed. Install them, or build it by hand:</p>
        <pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
        <p>The API works meanwhile: see <a href="/docs">/docs</a>.</p></body></html>
        """;
}
