using Microsoft.Extensions.Options;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Platform;

/// <summary>A bad setting or an unreachable backend fails the start, and the message names the setting.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task An_unreachable_postgres_names_the_connection_string_setting()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => PasarApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Database:Provider"] = "Postgres";
            s["Pasar:Database:ConnectionString"] = $"Host=127.0.0.1;Port={LocalServers.FreePort()};Username=postgres;Timeout=3";
        }));
        Assert.Contains("Pasar:Database:ConnectionString", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_redis_names_the_redis_setting()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => PasarApp.StartAsync(Backend.Embedded, s =>
            s["Pasar:Redis:ConnectionString"] = $"127.0.0.1:{LocalServers.FreePort()},connectTimeout=1000"));
        Assert.Contains("Pasar:Redis:ConnectionString", ex.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Pasar:Region:TimeZone", "Mars/Olympus_Mons")]
    [InlineData("Pasar:Auth:SigningKey", "too-short")]
    [InlineData("Pasar:Coins:MaxRedeemPercent", "140")]
    [InlineData("Pasar:LiveRoom:MaxChatShownPerSecond", "0")]
    public async Task A_bad_setting_fails_the_start_with_its_name(string key, string value)
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => PasarApp.StartAsync(Backend.Embedded, s => s[key] = value));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_without_a_connection_string_is_refused()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Database:Provider"] = "Postgres"));
        Assert.Contains("Pasar:Database:ConnectionString", ex.Message, StringComparison.Ordinal);
    }
}
