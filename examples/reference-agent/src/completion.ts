import { COMMANDS, type CommandSpec, type FlagSpec, flagsOf, type SHELLS } from './cli-spec.js';
import { DEFAULT_RUN_DIR } from './control.js';

/** `mesh-agent completion SHELL`: a completion script for every command and its flags, from COMMANDS. */
export function completionScript(shell: (typeof SHELLS)[number]): string {
  return { bash, zsh, fish }[shell]();
}

/** Single-quoted; the help texts carry no quotes (a POSIX-style escape would not suit fish). */
const sq = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
const spellings = (f: FlagSpec) => [...(f.short ? [`-${f.short}`] : []), `--${f.name}`];
const valueFlags = (value: FlagSpec['value']) => [
  ...new Set(COMMANDS.flatMap((c) => c.flags.filter((f) => f.value === value).flatMap(spellings))),
];
const words = (c: CommandSpec) => [...(c.positional?.choices ?? []), ...flagsOf(c).flatMap(spellings)].join(' ');

function bash(): string {
  const branches = COMMANDS.map((c) => `    ${c.name}) COMPREPLY=($(compgen -W "${words(c)}" -- "$cur")) ;;`);
  return `# bash completion for mesh-agent
# load it now: source <(mesh-agent completion bash)
# or for good: mesh-agent completion bash > /etc/bash_completion.d/mesh-agent
_mesh_agent() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${COMMANDS.map((c) => c.name).join(' ')} -h --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
    ${valueFlags('FILE').join('|')})
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    ${valueFlags('NAME').join('|')})
      local f names=()
      for f in "\${MESH_AGENT_RUN_DIR:-${DEFAULT_RUN_DIR}}"/*.sock; do
        [[ -e $f ]] && names+=("$(basename "$f" .sock)")
      done
      COMPREPLY=($(compgen -W "\${names[*]}" -- "$cur"))
      return ;;
  esac
  case "\${COMP_WORDS[1]}" in
${branches.join('\n')}
  esac
}
complete -F _mesh_agent mesh-agent
`;
}

function zsh(): string {
  const action = (f: FlagSpec) =>
    f.value === 'FILE' ? ':FILE:_files' : f.value ? `:${f.value}:_mesh_agent_interfaces` : '';
  const spec = (f: FlagSpec) => {
    const help = `[${f.help.replaceAll('[', '(').replaceAll(']', ')')}]${action(f)}`;
    return f.short ? `'(-${f.short} --${f.name})'{-${f.short},--${f.name}}${sq(help)}` : sq(`--${f.name}${help}`);
  };
  const branches = COMMANDS.map((c) => {
    const args = flagsOf(c).map(spec);
    if (c.positional)
      args.push(sq(`1:${c.positional.required ? '' : ':'}${c.positional.name}:(${c.positional.choices.join(' ')})`));
    return `    ${c.name}) _arguments -s ${args.join(' ')} ;;`;
  });
  return `#compdef mesh-agent
# zsh completion for mesh-agent
# install: mesh-agent completion zsh > "\${fpath[1]}/_mesh-agent"; or load it now: source <(mesh-agent completion zsh)
_mesh_agent_interfaces() {
  local -a names
  names=(\${MESH_AGENT_RUN_DIR:-${DEFAULT_RUN_DIR}}/*.sock(N:t:r))
  compadd -a names
}
_mesh_agent() {
  local -a commands
  commands=(
${COMMANDS.map((c) => `    ${sq(`${c.name}:${c.summary}`)}`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'mesh-agent command' commands
    compadd -- -h --help --version
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${branches.join('\n')}
  esac
}
if [[ $funcstack[1] == _mesh-agent ]]; then _mesh_agent "$@"; else compdef _mesh_agent mesh-agent; fi
`;
}

function fish(): string {
  const top = '__fish_use_subcommand';
  const lines = COMMANDS.flatMap((c) => {
    const when = sq(`__fish_seen_subcommand_from ${c.name}`);
    return [
      `complete -c mesh-agent -n ${top} -a ${c.name} -d ${sq(c.summary)}`,
      ...flagsOf(c).map((f) => {
        const value = f.value === 'FILE' ? ' -r -F' : f.value ? " -x -a '(__mesh_agent_interfaces)'" : '';
        return `complete -c mesh-agent -n ${when}${f.short ? ` -s ${f.short}` : ''} -l ${f.name}${value} -d ${sq(f.help)}`;
      }),
      ...(c.positional ? [`complete -c mesh-agent -n ${when} -a ${sq(c.positional.choices.join(' '))}`] : []),
    ];
  });
  return `# fish completion for mesh-agent
# install: mesh-agent completion fish > ~/.config/fish/completions/mesh-agent.fish
function __mesh_agent_interfaces
    set -l dir ${DEFAULT_RUN_DIR}
    set -q MESH_AGENT_RUN_DIR; and set dir $MESH_AGENT_RUN_DIR
    for f in $dir/*.sock
        basename $f .sock
    end
end
complete -c mesh-agent -f
complete -c mesh-agent -n ${top} -s h -l help -d 'print help and exit'
complete -c mesh-agent -n ${top} -l version -d 'print the version and exit'
${lines.join('\n')}
`;
}
