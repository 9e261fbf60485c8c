
_clap_complete_tokenctl() {
    local IFS=$'\013'
    local _CLAP_COMPLETE_COMP_TYPE=${COMP_TYPE}
    if compopt +o nospace 2> /dev/null; then
        local _CLAP_COMPLETE_SPACE=false
    else
        local _CLAP_COMPLETE_SPACE=true
    fi
    # bash splits --acl=dns:read into --acl = dns : read (COMP_WORDBREAKS):
    # join the pieces typed without a space between them.
    local words=() cword=0 i piece joined pos=0
    for (( i = 0; i < ${#COMP_WORDS[@]}; i++ )); do
        piece=${COMP_WORDS[i]}
        joined=true
        while [[ $pos -lt ${#COMP_LINE} && ${COMP_LINE:pos:1} == [[:space:]] ]]; do
            pos=$((pos + 1))
            joined=false
        done
        pos=$((pos + ${#piece}))
        if [[ $i -eq $COMP_CWORD && "${BASH_VERSINFO[0]}" -ge 4 ]] && [[ -n "$2" || $piece != [=:]* ]]; then
            piece=$2
        fi
        if [[ $i -gt 0 && $joined == true ]]; then
            words[${#words[@]}-1]+=$piece
        else
            words+=("$piece")
        fi
        if [[ $i -eq $COMP_CWORD ]]; then
            cword=$(( ${#words[@]} - 1 ))
        fi
    done
    local before=${words[cword]%"$2"}
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$cword" \
        _CLAP_COMPLETE_COMP_TYPE="$_CLAP_COMPLETE_COMP_TYPE" \
        _CLAP_COMPLETE_SPACE="$_CLAP_COMPLETE_SPACE" \
        TOKENCTL_COMPLETE="bash" \
        tokenctl -- "${words[@]}" \
    ) )
    if [[ $? != 0 ]]; then
        unset COMPREPLY
        return
    fi
    if [[ -n $before ]]; then
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$before"}
        done
    fi
    if [[ $_CLAP_COMPLETE_SPACE == false ]] && [[ "${COMPREPLY-}" =~ [=/:]$ ]]; then
        compopt -o nospace
    fi
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -o nospace -o bashdefault -o nosort -F _clap_complete_tokenctl tokenctl
else
    complete -o nospace -o bashdefault -F _clap_complete_tokenctl tokenctl
fi

