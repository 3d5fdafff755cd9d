namespace Pasar.Testing;

/// <summary>CPU time and peak memory of a process tree, read from /proc (Linux).</summary>
public static class ProcessStats
{
    /// <summary>User + system CPU seconds of a process and its children so far, from /proc.</summary>
    public static double Seconds(int pid)
    {
        var total = 0.0;
        foreach (var p in Tree(pid))
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{p}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                total += (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
            }
            catch (IOException)
            {
            }
        }

        return total;
    }

    private static IEnumerable<int> Tree(int pid)
    {
        yield return pid;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var child))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (IOException)
            {
                continue;
            }

            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (int.TryParse(fields[1], out var parent) && parent == pid)
            {
                foreach (var grandchild in Tree(child))
                {
                    yield return grandchild;
                }
            }
        }
    }

    /// <summary>Peak resident memory (VmHWM) of the process, in MB.</summary>
    public static double PeakRssMb(int pid) => StatusMb(pid, "VmHWM:");

    /// <summary>Resident memory (VmRSS) of the process now, in MB.</summary>
    public static double RssMb(int pid) => StatusMb(pid, "VmRSS:");

    private static double StatusMb(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
