// `plumb completion bash|zsh`: a completion script made from the command tree
// commander holds, so it offers exactly the commands and flags that exist.
// zsh loads the same functions through its bash completion layer.

import { type Command } from "commander";
import { PlumbError } from "../errors.js";
import { action } from "./context.js";

interface CommandEntry {
  path: string;
  subcommands: string[];
  options: string[];
}

function entries(command: Command, prefix = ""): CommandEntry[] {
  const children = command.commands.filter((child) => child.name() !== "help");
  const own: CommandEntry = {
    path: prefix,
    subcommands: children.map((child) => child.name()),
    options: [...command.options.flatMap((option) => [option.long, option.short].filter((flag): flag is string => flag !== undefined)), "--help"],
  };
  return [own, ...children.flatMap((child) => entries(child, prefix === "" ? child.name() : `${prefix} ${child.name()}`))];
}

function cases(list: CommandEntry[], pick: (entry: CommandEntry) => string[]): string {
  return list.map((entry) => `    ${JSON.stringify(entry.path)}) echo ${JSON.stringify(pick(entry).join(" "))} ;;`).join("\n");
}

export function completionScript(program: Command, shell: "bash" | "zsh"): string {
  const list = entries(program);
  const preamble =
    shell === "zsh"
      ? '# zsh completion for plumb: eval "$(plumb completion zsh)" in ~/.zshrc\n(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }\nautoload -U +X bashcompinit && bashcompinit\n'
      : '# bash completion for plumb: eval "$(plumb completion bash)" in ~/.bashrc\n';
  return `${preamble}_plumb_subcommands() {
  case "$1" in
${cases(list, (entry) => entry.subcommands)}
  esac
}
_plumb_options() {
  case "$1" in
${cases(list, (entry) => entry.options)}
  esac
}
_plumb() {
  # zsh counts array items from 1; the words are read the way bash counts them.
  [[ -n "\${ZSH_VERSION-}" ]] && setopt localoptions ksharrays
  local current="\${COMP_WORDS[COMP_CWORD]}" path="" word index
  for ((index = 1; index < COMP_CWORD; index++)); do
    word="\${COMP_WORDS[index]}"
    [[ "$word" == -* ]] && continue
    if [[ " $(_plumb_subcommands "$path") " == *" $word "* ]]; then path="\${path:+$path }$word"; fi
  done
  local candidates
  if [[ "$current" == -* ]]; then candidates="$(_plumb_options "$path")"; else candidates="$(_plumb_subcommands "$path")"; fi
  if [[ -z "$candidates" ]]; then
    COMPREPLY=()
    return
  fi
  COMPREPLY=($(compgen -W "$candidates" -- "$current"))
}
complete -o default -F _plumb plumb
`;
}

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script for bash or zsh")
    .argument("<shell>", "bash or zsh")
    .addHelpText("after", "\nExamples:\n  $ echo 'eval \"$(plumb completion bash)\"' >> ~/.bashrc\n  $ echo 'eval \"$(plumb completion zsh)\"' >> ~/.zshrc")
    .action(
      action(async (shell: string) => {
        if (shell !== "bash" && shell !== "zsh")
          throw new PlumbError("PLUMB_USAGE", `no completion for the shell "${shell}"`, { hint: "plumb completion bash, or plumb completion zsh" });
        process.stdout.write(completionScript(program, shell));
      }),
    );
}
