using System.Text;
using System.Text.RegularExpressions;
using Mono.Cecil;

namespace Pasar.Server.Tests.Architecture;

/// <summary>
/// ADR 0013: a module's SQL touches only the tables its own <c>Sql/</c> scripts create, there are no cycles
/// between modules, and Platform depends on no feature module.
/// </summary>
public sealed partial class ModuleBoundaryTests
{
    private const string Root = "Pasar.Server";

    /// <summary>The folders under <c>src/Pasar.Server</c> that are modules, with their SQL script folders.</summary>
    private static readonly string[] Modules =
        ["Platform", "Catalog", "Orders", "Coins", "Games", "Notifications", "Social", "Live", "LiveRoom", "FlashSales", "Proof", "Engagement", "Vouchers", "Auctions", "Analytics", "Demo", "Web"];

    /// <summary>
    /// Scripts that ran on deployed databases before this rule and cannot change (DbUp runs each script once, by
    /// name): the order's foreign key to its product, and a one-off repair that gave carved stock back. The rule
    /// holds for every other script and for all code (ADR 0013).
    /// </summary>
    private static readonly HashSet<(string Script, string Table)> AppliedBeforeTheRule =
    [
        (Path.Combine("Orders", "Sql", "0003_orders.sql"), "products"),
        (Path.Combine("FlashSales", "Sql", "0013_flash_sales_one_active.sql"), "products"),
    ];

    [Fact]
    public void A_module_s_SQL_touches_only_the_tables_its_own_scripts_create()
    {
        var server = Path.Combine(SolutionFolder(), "src", "Pasar.Server");
        var owners = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var module in Modules)
        {
            foreach (var script in SqlScripts(server, module))
            {
                foreach (Match m in CreateTable().Matches(File.ReadAllText(script)))
                {
                    owners[m.Groups["name"].Value] = module;
                }
            }
        }

        Assert.NotEmpty(owners);
        var violations = new List<string>();
        foreach (var module in Modules)
        {
            var folder = Path.Combine(server, module);
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
            {
                foreach (var (line, text) in StringLiterals(File.ReadAllText(file)))
                {
                    Check(module, file, line, text, wholeWords: true);
                }
            }

            foreach (var script in SqlScripts(server, module))
            {
                var lines = File.ReadAllLines(script);
                for (var i = 0; i < lines.Length; i++)
                {
                    Check(module, script, i + 1, lines[i], wholeWords: false);
                }
            }
        }

        Assert.True(violations.Count == 0, "Modules reach into other modules' tables:\n" + string.Join('\n', violations.Distinct()));

        void Check(string module, string file, int line, string text, bool wholeWords)
        {
            // A string literal is SQL when it reads like SQL; inside SQL any whole-word table name counts,
            // in scripts only a name after a keyword that names a table (so a column called "users" would not).
            if (wholeWords && !LooksLikeSql().IsMatch(text))
            {
                return;
            }

            var words = wholeWords ? Words().Matches(text).Select(m => (m.Value, m.Index)) : TableAfterKeyword().Matches(text).Select(m => (m.Groups["name"].Value, m.Groups["name"].Index));
            foreach (var (word, index) in words)
            {
                if (owners.TryGetValue(word, out var owner) && owner != module && !AppliedBeforeTheRule.Contains((Path.GetRelativePath(server, file), word)))
                {
                    var at = line + text[..index].Count(ch => ch == '\n');
                    violations.Add($"Module {module} touches table {word} owned by {owner} ({Path.GetRelativePath(server, file)}:{at})");
                }
            }
        }
    }

    [Fact]
    public void Modules_depend_on_each_other_without_cycles()
    {
        var graph = DependencyGraph();
        var cycles = new List<string>();
        foreach (var (from, tos) in graph)
        {
            foreach (var to in tos)
            {
                var path = PathBetween(graph, to, from);
                if (path is not null)
                {
                    cycles.Add($"{from} -> {string.Join(" -> ", path)}");
                }
            }
        }

        Assert.True(cycles.Count == 0, "Module dependency cycles:\n" + string.Join('\n', cycles) + "\n\nGraph:\n" + Describe(graph));
    }

    [Fact]
    public void Platform_depends_on_no_feature_module()
    {
        var graph = DependencyGraph();
        Assert.True(graph["Platform"].Count == 0, "Platform depends on " + string.Join(", ", graph["Platform"]) + "\n\nGraph:\n" + Describe(graph));
    }

    /// <summary>
    /// Which module's types name which other modules' types: base types, interfaces, fields, properties, method
    /// signatures, locals and every type, method and field the IL of a body refers to, including the
    /// compiler's nested types (lambdas, async state machines). Read with Mono.Cecil, so a dependency hidden
    /// behind <c>GetRequiredService&lt;T&gt;()</c> inside a body still counts.
    /// </summary>
    private static Dictionary<string, SortedSet<string>> DependencyGraph()
    {
        var graph = Modules.ToDictionary(m => m, _ => new SortedSet<string>(StringComparer.Ordinal));
        using var assembly = AssemblyDefinition.ReadAssembly(typeof(PasarHost).Assembly.Location);
        foreach (var type in AllTypes(assembly.MainModule.Types))
        {
            if (ModuleOf(type) is not { } from)
            {
                continue;
            }

            foreach (var referenced in References(type))
            {
                if (ModuleOf(referenced) is { } to && to != from)
                {
                    graph[from].Add(to);
                }
            }
        }

        return graph;
    }

    private static IEnumerable<TypeDefinition> AllTypes(IEnumerable<TypeDefinition> types) =>
        types.SelectMany(t => AllTypes(t.NestedTypes).Prepend(t));

    private static string? ModuleOf(TypeReference type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return Modules.FirstOrDefault(m => InModule(type.Namespace, m));
    }

    private static IEnumerable<TypeReference> References(TypeDefinition type)
    {
        var found = new List<TypeReference>();
        void Add(TypeReference? t)
        {
            switch (t)
            {
                case null:
                    return;
                case GenericInstanceType g:
                    Add(g.ElementType);
                    g.GenericArguments.ToList().ForEach(Add);
                    return;
                case TypeSpecification spec:
                    Add(spec.ElementType);
                    return;
                default:
                    found.Add(t);
                    return;
            }
        }

        void AddMethod(MethodReference m)
        {
            Add(m.DeclaringType);
            Add(m.ReturnType);
            m.Parameters.ToList().ForEach(p => Add(p.ParameterType));
            if (m is GenericInstanceMethod g)
            {
                g.GenericArguments.ToList().ForEach(Add);
            }
        }

        Add(type.BaseType);
        type.Interfaces.ToList().ForEach(i => Add(i.InterfaceType));
        type.Fields.ToList().ForEach(f => Add(f.FieldType));
        type.Properties.ToList().ForEach(p => Add(p.PropertyType));
        foreach (var method in type.Methods)
        {
            AddMethod(method);
            if (!method.HasBody)
            {
                continue;
            }

            method.Body.Variables.ToList().ForEach(v => Add(v.VariableType));
            foreach (var instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference t:
                        Add(t);
                        break;
                    case MethodReference m:
                        AddMethod(m);
                        break;
                    case FieldReference f:
                        Add(f.DeclaringType);
                        Add(f.FieldType);
                        break;
                }
            }
        }

        return found;
    }

    private static bool InModule(string? ns, string module) =>
        ns is not null && (ns == $"{Root}.{module}" || ns.StartsWith($"{Root}.{module}.", StringComparison.Ordinal));

    private static List<string>? PathBetween(Dictionary<string, SortedSet<string>> graph, string start, string goal)
    {
        var previous = new Dictionary<string, string?> { [start] = null };
        var queue = new Queue<string>([start]);
        while (queue.TryDequeue(out var node))
        {
            if (node == goal)
            {
                var path = new List<string>();
                for (string? at = node; at is not null; at = previous[at])
                {
                    path.Insert(0, at);
                }

                return path;
            }

            foreach (var next in graph[node].Where(n => !previous.ContainsKey(n)))
            {
                previous[next] = node;
                queue.Enqueue(next);
            }
        }

        return null;
    }

    private static string Describe(Dictionary<string, SortedSet<string>> graph) =>
        string.Join('\n', graph.Select(kv => $"{kv.Key} -> {string.Join(", ", kv.Value)}"));

    private static IEnumerable<string> SqlScripts(string server, string module)
    {
        var folder = module == "Platform" ? Path.Combine(server, "Platform", "Storage", "Sql") : Path.Combine(server, module, "Sql");
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.sql") : [];
    }

    /// <summary>The string literals of a C# file (regular, verbatim, raw and interpolated), each with the line it starts on.</summary>
    private static IEnumerable<(int Line, string Text)> StringLiterals(string source)
    {
        var i = 0;
        var line = 1;
        while (i < source.Length)
        {
            var ch = source[i];
            if (ch == '\n')
            {
                line++;
                i++;
            }
            else if (ch == '/' && i + 1 < source.Length && source[i + 1] == '/')
            {
                while (i < source.Length && source[i] != '\n')
                {
                    i++;
                }
            }
            else if (ch == '/' && i + 1 < source.Length && source[i + 1] == '*')
            {
                var end = source.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = end < 0 ? source.Length : end + 2;
                line += source.AsSpan(i, end - i).Count('\n');
                i = end;
            }
            else if (ch == '\'')
            {
                // A char literal: skip it so '"' is not read as the start of a string.
                var end = i + 1;
                while (end < source.Length && source[end] != '\'')
                {
                    end += source[end] == '\\' ? 2 : 1;
                }

                i = end + 1;
            }
            else if (ch == '"')
            {
                var start = i;
                var prefix = i;
                while (prefix > 0 && source[prefix - 1] is '$' or '@')
                {
                    prefix--;
                }

                var verbatim = source.AsSpan(prefix, i - prefix).Contains('@');
                var quotes = 0;
                while (i + quotes < source.Length && source[i + quotes] == '"')
                {
                    quotes++;
                }

                string text;
                int end;
                if (quotes >= 3)
                {
                    var close = new string('"', quotes);
                    end = source.IndexOf(close, i + quotes, StringComparison.Ordinal);
                    end = end < 0 ? source.Length : end + quotes;
                    text = source[(i + quotes)..Math.Max(i + quotes, end - quotes)];
                }
                else if (quotes == 2 && !verbatim)
                {
                    end = i + 2;
                    text = "";
                }
                else
                {
                    var sb = new StringBuilder();
                    end = i + 1;
                    while (end < source.Length)
                    {
                        var c = source[end];
                        if (verbatim && c == '"' && end + 1 < source.Length && source[end + 1] == '"')
                        {
                            end += 2;
                            continue;
                        }

                        if (!verbatim && c == '\\')
                        {
                            end += 2;
                            continue;
                        }

                        if (c == '"' || (!verbatim && c == '\n'))
                        {
                            break;
                        }

                        sb.Append(c);
                        end++;
                    }

                    end++;
                    text = sb.ToString();
                }

                yield return (line, text);
                line += source.AsSpan(start, Math.Min(end, source.Length) - start).Count('\n');
                i = end;
            }
            else
            {
                i++;
            }
        }
    }

    private static string SolutionFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pasar.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Pasar.slnx not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(?<name>\w+)", RegexOptions.IgnoreCase)]
    private static partial Regex CreateTable();

    [GeneratedRegex(@"\b(FROM|JOIN|INTO|UPDATE|TABLE|ON|REFERENCES|EXISTS)\s+(?<name>\w+)", RegexOptions.IgnoreCase)]
    private static partial Regex TableAfterKeyword();

    [GeneratedRegex(@"\b(SELECT|INSERT|UPDATE|DELETE)\b[\s\S]*\b(FROM|INTO|SET|WHERE|VALUES)\b", RegexOptions.IgnoreCase)]
    private static partial Regex LooksLikeSql();

    [GeneratedRegex(@"\b[A-Za-z_]\w*\b")]
    private static partial Regex Words();
}
